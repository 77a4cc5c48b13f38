import { describe, expect, it } from 'vitest';
import { client } from '../../src/components/client/index.js';
import { ctxFor, makeInventory } from './helpers.js';
import type { Host } from '../../src/inventory/types.js';

describe('the client role', () => {
  const inv = makeInventory({ postgres_version: 16 });
  const box: Host = { ...inv.hosts[0], name: 'app1', address: '10.77.0.31', roles: ['client'] as never[] };
  inv.hosts.push(box);

  it('installs psql of the cluster version and etcdctl on a client host, nothing else', async () => {
    const rs = await client.steps[0].resources(ctxFor(inv, 'app1'), {});
    expect(rs).toEqual([{ kind: 'packages', names: ['postgresql-client-16', 'etcd-client'] }]);
  });

  it('leaves members alone', async () => {
    expect(await client.steps[0].resources(ctxFor(inv, 'pg1'), {})).toEqual([]);
  });
});
