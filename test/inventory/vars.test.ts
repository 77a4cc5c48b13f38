import { describe, expect, it } from 'vitest';
import { hostVars, mergeVars } from '../../src/inventory/vars.js';
import { load } from './helpers.js';

describe('variable precedence: host > groups (later listed wins) > cluster', () => {
  const inv = load(`cluster: demo
network: {subnet: 10.77.0.0/24}
vars:
  demo_greeting: cluster
  patroni_ttl: 30
  patroni_synchronous_mode: false
  postgres_parameters: {maintenance_work_mem: 100MB, shared_buffers: 128MB, work_mem: 4MB}
groups:
  dc1:
    vars: {demo_greeting: dc1, patroni_ttl: 20, postgres_parameters: {shared_buffers: 1GB}}
  fast:
    vars: {demo_greeting: fast, patroni_ttl: 10, postgres_parameters: {work_mem: 64MB}}
hosts:
  pg1: {address: 10.77.0.11, roles: [postgres, etcd], groups: [dc1, fast]}
  pg2: {address: 10.77.0.12, roles: [postgres, etcd], groups: [fast, dc1]}
  pg3:
    address: 10.77.0.13
    roles: [postgres, etcd]
    groups: [dc1, fast]
    vars: {demo_greeting: host, postgres_parameters: {maintenance_work_mem: 50MB}, patroni_synchronous_mode: true}
  pg4: {address: 10.77.0.14, roles: [postgres]}
`);
  const vars = (n: string) => inv.hosts.find((h) => h.name === n)!.vars;

  it('a later group wins over an earlier one, both over cluster vars', () => {
    expect(vars('pg1')).toMatchObject({ demo_greeting: 'fast', patroni_ttl: 10, patroni_synchronous_mode: false });
    expect(vars('pg2')).toMatchObject({ demo_greeting: 'dc1', patroni_ttl: 20 });
  });

  it('host vars win over every group', () => {
    expect(vars('pg3')).toMatchObject({ demo_greeting: 'host', patroni_ttl: 10, patroni_synchronous_mode: true });
  });

  it('a host in no group sees the cluster vars', () => {
    expect(vars('pg4')).toEqual(inv.vars);
    expect(vars('pg4').demo_greeting).toBe('cluster');
  });

  it('maps merge key by key (lists are replaced whole: see mergeVars)', () => {
    expect(vars('pg1').postgres_parameters).toEqual({
      maintenance_work_mem: '100MB',
      shared_buffers: '1GB',
      work_mem: '64MB',
    });
    expect(vars('pg3').postgres_parameters).toEqual({
      maintenance_work_mem: '50MB',
      shared_buffers: '1GB',
      work_mem: '64MB',
    });
  });

  it("hosts do not share objects: changing one host's vars leaves the others and the cluster vars alone", () => {
    (vars('pg1').postgres_parameters as Record<string, unknown>).work_mem = '1kB';
    expect((vars('pg2').postgres_parameters as Record<string, unknown>).work_mem).toBe('64MB');
    expect((inv.vars.postgres_parameters as Record<string, unknown>).work_mem).toBe('4MB');
  });

  it('groups include roles, user groups and all', () => {
    expect(inv.groups).toEqual({
      etcd: ['pg1', 'pg2', 'pg3'],
      postgres: ['pg1', 'pg2', 'pg3', 'pg4'],
      haproxy: [],
      monitor: [],
      backup: [],
      client: [],
      dc1: ['pg1', 'pg2', 'pg3'],
      fast: ['pg1', 'pg2', 'pg3'],
      all: ['pg1', 'pg2', 'pg3', 'pg4'],
    });
  });
});

describe('mergeVars / hostVars', () => {
  it('merges nested maps recursively without changing the inputs', () => {
    const a = { m: { x: 1, n: { y: 2 } }, l: [1] };
    const b = { m: { n: { z: 3 } }, l: [2] };
    expect(mergeVars(a, b)).toEqual({ m: { x: 1, n: { y: 2, z: 3 } }, l: [2] });
    expect(a).toEqual({ m: { x: 1, n: { y: 2 } }, l: [1] });
    expect(hostVars({ k: 'c' }, [{ k: 'g1' }, { k: 'g2' }], {})).toEqual({ k: 'g2' });
    expect(hostVars({ k: 'c' }, [{ k: 'g1' }], { k: 'h' })).toEqual({ k: 'h' });
  });

  it('a map replaces a scalar and a scalar replaces a map', () => {
    expect(mergeVars({ a: 1 }, { a: { b: 2 } })).toEqual({ a: { b: 2 } });
    expect(mergeVars({ a: { b: 2 } }, { a: 'x' })).toEqual({ a: 'x' });
  });
});
