import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../src/inventory/load.js';
import { catalog } from '../../src/components/index.js';
import { BASE, errorLines, loadError } from './helpers.js';

describe('bad inventories: one UserError naming file, line and field', () => {
  it('malformed YAML names the line', () => {
    const e = loadError('cluster: demo\nnetwork: {subnet: 10.77.0.0/24\nhosts:\n  pg1: [\n');
    expect(e.message).toMatch(/is not valid YAML/);
    expect(e.message).toContain(`${e.file}:3: `);
    expect(e.where).toMatchObject({ file: e.file, line: 3 });
  });

  it('an unknown key gets the near name', () => {
    const e = loadError(BASE.replace('pg2: {address: 10.77.0.12,', 'pg2: {adress: 10.77.0.12,'));
    const errs = errorLines(e);
    expect(errs).toContainEqual({
      line: 10,
      field: 'hosts.pg2.adress',
      message: "unknown key 'adress': did you mean 'address'?",
    });
    expect(errs).toContainEqual({ line: 10, field: 'hosts.pg2.address', message: "'address' is required" });
    expect(e.where).toMatchObject({ file: e.file, line: 10 });
  });

  it('unknown keys at the top level and in nested settings', () => {
    const e = loadError(
      BASE.replace('network:', 'netwrok: {}\nnetwork:').replace(
        'provider: lab',
        'provider: {type: lab, lab: {cache_prot: 1}}',
      ),
    );
    const errs = errorLines(e);
    expect(errs).toContainEqual({
      line: 2,
      field: 'provider.lab.cache_prot',
      message: "unknown key 'cache_prot': did you mean 'cache_port'?",
    });
    expect(errs).toContainEqual({
      line: 3,
      field: 'netwrok',
      message: "unknown key 'netwrok': did you mean 'network'?",
    });
  });

  it('a key written one level too high points to where it belongs', () => {
    const e = loadError(
      BASE.replace(
        'pg1: {address: 10.77.0.11, roles: [postgres, etcd]}',
        'pg1: {address: 10.77.0.11, roles: [postgres, etcd], port: 2222}',
      ),
    );
    expect(errorLines(e)).toEqual([
      { line: 9, field: 'hosts.pg1.port', message: "unknown key 'port': did you mean 'ssh: {port: ...}'?" },
    ]);
  });

  it('wrong types say what is expected and what was given', () => {
    const e = loadError(
      BASE.replace('vip: 10.77.0.100', 'vip: 10.77.0.100\nssh: {port: "22", become: yes}').replace(
        'pg3: {address: 10.77.0.13, roles: [postgres, etcd]}',
        'pg3: {address: 10.77.0.13, roles: postgres}',
      ),
    );
    const errs = errorLines(e);
    expect(errs).toContainEqual({ line: 6, field: 'ssh.port', message: 'expected an integer, got string "22"' });
    expect(errs).toContainEqual({ line: 6, field: 'ssh.become', message: 'expected a boolean, got string "yes"' });
    expect(errs).toContainEqual({
      line: 12,
      field: 'hosts.pg3.roles',
      message: 'expected a list, got string "postgres"',
    });
  });

  it('a bad role, a bad address and a bad host name', () => {
    const e = loadError(
      BASE.replace('roles: [postgres, etcd]}\n  pg3', 'roles: [postgress, etcd]}\n  pg3').replace(
        'pg3: {address: 10.77.0.13',
        'Pg_3: {address: 10.77.0.300',
      ),
    );
    const errs = errorLines(e);
    expect(errs).toContainEqual({
      line: 10,
      field: 'hosts.pg2.roles.0',
      message: "'postgress' is not one of etcd, postgres, haproxy, monitor, backup, client: did you mean 'postgres'?",
    });
    expect(errs).toContainEqual({
      line: 11,
      field: 'hosts.Pg_3',
      message: "host name 'Pg_3' is not valid: use lowercase letters, digits and dashes, starting with a letter",
    });
    expect(errs).toContainEqual({
      line: 11,
      field: 'hosts.Pg_3.address',
      message: "'10.77.0.300' is not an IPv4 address (expected a dotted quad like 10.77.0.11)",
    });
  });

  it('a duplicate host name', () => {
    const e = loadError(BASE.replace('  pg3: {address: 10.77.0.13', '  pg1: {address: 10.77.0.13'));
    expect(errorLines(e)).toContainEqual({
      line: 11,
      field: 'hosts.pg1',
      message: "duplicate host name 'pg1' (first at line 9)",
    });
  });

  it('a duplicate host name is an error at both lines', () => {
    const e = loadError(BASE.replace('  pg3: {address: 10.77.0.13', '  pg1: {address: 10.77.0.13'));
    expect(errorLines(e)).toContainEqual({
      line: 9,
      field: 'hosts.pg1',
      message: "host name 'pg1' is given twice (again at line 11)",
    });
    expect(e.where).toMatchObject({ file: e.file, line: 9 });
  });

  it('a key given twice, in a nested map and at the top level, is an error at every line of it', () => {
    const e = loadError(
      BASE.replace('network:', 'vars:\n  patroni_ttl: 8\n  patroni_loop_wait: 2\n  patroni_ttl: 9\nnetwork:') +
        'cluster: other\nvars: {patroni_ttl: 7}\n',
    );
    expect(errorLines(e)).toEqual([
      { line: 1, field: 'cluster', message: "key 'cluster' is given twice (again at line 16)" },
      { line: 3, field: 'vars', message: "key 'vars' is given twice (again at line 17)" },
      { line: 4, field: 'vars.patroni_ttl', message: "key 'patroni_ttl' is given twice (again at line 6)" },
      { line: 6, field: 'vars.patroni_ttl', message: "duplicate key 'patroni_ttl' (first at line 4)" },
      { line: 16, field: 'cluster', message: "duplicate key 'cluster' (first at line 1)" },
      { line: 17, field: 'vars', message: "duplicate key 'vars' (first at line 3)" },
    ]);
    expect(e.message).toContain(`inventory ${e.file} has 6 errors`);
  });

  it('a key given three times names every other line', () => {
    const e = loadError(
      BASE.replace('  vip: 10.77.0.100', '  vip: 10.77.0.100\n  vip: 10.77.0.101\n  vip: 10.77.0.102'),
    );
    expect(errorLines(e)).toEqual([
      { line: 5, field: 'network.vip', message: "key 'vip' is given 3 times (again at lines 6, 7)" },
      { line: 6, field: 'network.vip', message: "duplicate key 'vip' (first at line 5)" },
      { line: 7, field: 'network.vip', message: "duplicate key 'vip' (first at line 5, again at line 6)" },
    ]);
  });

  it('a duplicate address', () => {
    const e = loadError(BASE.replace('10.77.0.13', '10.77.0.11'));
    expect(errorLines(e)).toEqual([
      { line: 11, field: 'hosts.pg3.address', message: '10.77.0.11 is already used by host pg1' },
    ]);
  });

  it('haproxy hosts without a VIP', () => {
    const e = loadError(BASE.replace('  vip: 10.77.0.100\n', ''));
    expect(errorLines(e)).toEqual([
      {
        line: 3,
        field: 'network',
        message: expect.stringMatching(/^hosts lb1, lb2 have the haproxy role but network\.vip is not set/),
      },
    ]);
  });

  it('postgres hosts without an etcd host, and no postgres host at all', () => {
    let e = loadError(BASE.replace(/postgres, etcd/g, 'postgres'));
    expect(errorLines(e)).toEqual([
      {
        line: 6,
        field: 'hosts',
        message: expect.stringMatching(/^hosts pg1, pg2, pg3 have the postgres role but no host has the etcd role/),
      },
    ]);
    e = loadError(BASE.replace(/postgres, etcd/g, 'etcd'));
    expect(errorLines(e)).toEqual([
      { line: 6, field: 'hosts', message: expect.stringMatching(/^no host has the postgres role/) },
    ]);
  });

  it('a VIP outside the subnet, and a VIP equal to a host address', () => {
    let e = loadError(BASE.replace('vip: 10.77.0.100', 'vip: 10.78.0.100'));
    expect(errorLines(e)).toEqual([
      { line: 5, field: 'network.vip', message: '10.78.0.100 is outside the subnet 10.77.0.0/24' },
    ]);
    e = loadError(BASE.replace('vip: 10.77.0.100', 'vip: 10.77.0.12'));
    expect(errorLines(e)).toEqual([
      { line: 5, field: 'network.vip', message: '10.77.0.12 is already used by host pg2' },
    ]);
    e = loadError(BASE.replace('vip: 10.77.0.100', 'vip: 10.77.0.255'));
    expect(errorLines(e)).toEqual([
      { line: 5, field: 'network.vip', message: '10.77.0.255 is the broadcast address of 10.77.0.0/24' },
    ]);
  });

  it('a host address outside the subnet, or taken by the lab bridge', () => {
    const e = loadError(BASE.replace('10.77.0.21', '10.7.0.21').replace('10.77.0.22', '10.77.0.1'));
    expect(errorLines(e)).toEqual([
      { line: 7, field: 'hosts.lb1.address', message: '10.7.0.21 is outside the subnet 10.77.0.0/24' },
      {
        line: 8,
        field: 'hosts.lb2.address',
        message: '10.77.0.1 is already used by the lab bridge (provider.lab.bridge_address)',
      },
    ]);
  });

  it('a subnet with host bits set or not in CIDR form', () => {
    let e = loadError(BASE.replace('subnet: 10.77.0.0/24', 'subnet: 10.77.0.1/24'));
    expect(errorLines(e)).toContainEqual({
      line: 4,
      field: 'network.subnet',
      message: "'10.77.0.1/24' has host bits set: did you mean '10.77.0.0/24'?",
    });
    e = loadError(BASE.replace('subnet: 10.77.0.0/24', 'subnet: 10.77.0.0'));
    expect(errorLines(e)).toContainEqual({
      line: 4,
      field: 'network.subnet',
      message: "'10.77.0.0' is not in CIDR form (address/prefix, e.g. 10.77.0.0/24)",
    });
  });

  it('a host in an undeclared group gets the near declared name; group names may not shadow roles or hosts', () => {
    const e = loadError(
      BASE.replace('hosts:', 'groups:\n  dc1: {}\n  postgres: {}\n  pg1: {}\nhosts:').replace(
        'roles: [haproxy]}',
        'roles: [haproxy], groups: [dc2]}',
      ),
    );
    const errs = errorLines(e);
    expect(errs).toContainEqual({
      line: 8,
      field: 'groups.postgres',
      message: "group name 'postgres' is a role (hosts join it through roles): choose another name",
    });
    expect(errs).toContainEqual({
      line: 9,
      field: 'groups.pg1',
      message: "group name 'pg1' is a host name: choose another name",
    });
    expect(errs).toContainEqual({
      line: 11,
      field: 'hosts.lb1.groups.0',
      message: "group 'dc2' is not declared under groups: did you mean 'dc1'?",
    });
  });

  it('every error is listed, not only the first, in line order', () => {
    const e = loadError(`cluster: Demo
network: {subnet: 10.77.0.0/24, vip: 10.77.0.11}
hosts:
  pg1: {address: 10.77.0.11, roles: [postgres, etcd, haproxy], colour: red}
  pg1: {address: 10.77.0.12, roles: [etcd]}
`);
    const errs = errorLines(e);
    expect(e.message).toMatch(new RegExp(`^inventory ${e.file} has ${errs.length} errors:`));
    expect(errs.map((x) => [x.line, x.field])).toEqual([
      [1, 'cluster'],
      [2, 'network.vip'],
      [4, 'hosts.pg1'],
      [4, 'hosts.pg1.colour'],
      [5, 'hosts.pg1'],
    ]);
    expect(errs[0].message).toMatch(/'Demo' is not valid: use lowercase letters/);
    expect(e.hint).toMatch(/schema/);
  });

  it('an empty file, a file that is not a map, and a missing file', () => {
    expect(loadError('').message).toMatch(/is empty/);
    expect(() => loadInventory('/nonexistent/pgha/inv.yml', catalog)).toThrow(
      /cannot read inventory \/nonexistent\/pgha\/inv.yml: no such file/,
    );
    expect(loadError('- a\n- b\n').message).toMatch(/must be a map .* got a list/);
    expect(errorLines(loadError('cluster: demo\n'))).toEqual([
      { line: 1, field: 'network', message: "'network' is required" },
      { line: 1, field: 'hosts', message: "'hosts' is required" },
    ]);
  });
});
