// The replication mode `up` and `plan` name: synchronous by default, asynchronous only when the inventory asks.
import { describe, expect, it } from 'vitest';
import { replicationMode, replicationNote } from '../../src/cli/playbook-run.js';
import { load } from '../inventory/helpers.js';

const inventory = (vars: string) =>
  load(`cluster: shop
provider: static
network: {subnet: 10.9.0.0/24}
${vars}
hosts:
  pg1: {address: 10.9.0.11, roles: [postgres, etcd]}
  pg2: {address: 10.9.0.12, roles: [postgres, etcd]}
  pg3: {address: 10.9.0.13, roles: [postgres, etcd]}
`);

describe('replication mode', () => {
  it('is synchronous unless the inventory says otherwise, and only asynchronous gets a note', () => {
    expect(replicationMode(inventory(''))).toBe('synchronous');
    expect(replicationNote(inventory(''))).toBeUndefined();
    expect(replicationMode(inventory('vars: {patroni_synchronous_mode_strict: true}'))).toBe('synchronous (strict)');
    const async = inventory('vars: {patroni_synchronous_mode: false}');
    expect(replicationMode(async)).toBe('asynchronous');
    expect(replicationNote(async)).toMatch(/^replication: asynchronous .*can lose the last writes/);
  });
});
