// Hosts declared with no roles (roles: []): plain hosts reached over SSH, for pgha lab and pgha run.
import { describe, expect, it } from 'vitest';
import { BASE, errorLines, load, loadError } from './helpers.js';
import { selectHosts } from '../../src/inventory/limit.js';

const PLAIN = `cluster: plain
network: {subnet: 10.77.0.0/24}
hosts:
  h1: {address: 10.77.0.11, roles: []}
  h2: {address: 10.77.0.12, roles: []}
`;

describe('hosts with no roles', () => {
  it('an inventory of hosts without roles loads, with a warning that it builds no cluster', () => {
    const inv = load(PLAIN);
    expect(inv.hosts.map((h) => [h.name, h.roles])).toEqual([
      ['h1', []],
      ['h2', []],
    ]);
    expect(inv.warnings).toHaveLength(1);
    expect(inv.warnings[0]).toMatch(/no host has a role: there is no cluster to build here/);
    expect(selectHosts(inv, 'all', { what: 'test' }).map((h) => h.name)).toEqual(['h1', 'h2']);
  });

  it('a host without roles beside a cluster is a plain host, and the cluster checks still apply', () => {
    const inv = load(BASE.replace('hosts:\n', 'hosts:\n  tool1: {address: 10.77.0.40, roles: []}\n'));
    expect(inv.hosts.find((h) => h.name === 'tool1')?.roles).toEqual([]);
    expect(inv.warnings.join('\n')).not.toMatch(/no host has a role/);
    const e = loadError(
      PLAIN.replace('h2: {address: 10.77.0.12, roles: []}', 'h2: {address: 10.77.0.12, roles: [etcd]}'),
    );
    expect(errorLines(e)).toEqual([
      { line: 3, field: 'hosts', message: expect.stringMatching(/^no host has the postgres role/) },
    ]);
  });

  it('roles stays required: a host without the key is refused', () => {
    const e = loadError(PLAIN.replace('h1: {address: 10.77.0.11, roles: []}', 'h1: {address: 10.77.0.11}'));
    expect(errorLines(e)).toContainEqual({ line: 4, field: 'hosts.h1.roles', message: "'roles' is required" });
  });
});
