// Bad inventory variables: type-checked values, the Patroni timing rule, names close to the components' own.
import { describe, expect, it } from 'vitest';
import { BASE, errorLines, load, loadError } from './helpers.js';

describe('bad variables in an inventory', () => {
  it('variables the components read are type-checked with their line', () => {
    const e = loadError(
      BASE.replace(
        'hosts:',
        'vars:\n  haproxy_check_inter: 1000\n  postgres_parameters: {max_connections: [1]}\n  keepalived_virtual_router_id: 300\nhosts:',
      ),
    );
    expect(errorLines(e)).toEqual([
      { line: 7, field: 'vars.haproxy_check_inter', message: 'expected a string, got number 1000' },
      {
        line: 8,
        field: 'vars.postgres_parameters.max_connections',
        message: 'expected a string or a number or a boolean, got a list',
      },
      {
        line: 9,
        field: 'vars.keepalived_virtual_router_id',
        message: expect.stringMatching(/^300: must be <= 255 \(VRRP virtual router id/),
      },
    ]);
  });

  it('Patroni timing that breaks loop_wait + 2 * retry_timeout <= ttl, with the defaults for what is not set', () => {
    let e = loadError(
      BASE.replace(
        'hosts:',
        'vars: {patroni_ttl: 30, patroni_loop_wait: 10, patroni_retry_timeout: 5}\nhosts:',
      ).replace(
        'pg3: {address: 10.77.0.13, roles: [postgres, etcd]}',
        'pg3: {address: 10.77.0.13, roles: [postgres, etcd], vars: {patroni_retry_timeout: 15}}',
      ),
    );
    expect(errorLines(e)).toEqual([
      {
        line: 12,
        field: 'hosts.pg3.vars.patroni_retry_timeout',
        message: expect.stringMatching(/\(10 \+ 2 \* 15\) must not exceed patroni_ttl \(30\).*\(hosts pg3\)$/),
      },
    ]);
    e = loadError(BASE.replace('hosts:', 'vars: {patroni_ttl: 5}\nhosts:'));
    expect(errorLines(e)).toEqual([
      {
        line: 6,
        field: 'vars.patroni_ttl',
        message: expect.stringMatching(/\(2 \+ 2 \* 3\) must not exceed patroni_ttl \(5\).*\(hosts pg1, pg2, pg3\)$/),
      },
    ]);
  });

  it("a variable that looks like a component's but is not declared is an error at its line, with the name meant", () => {
    const e = loadError(
      BASE.replace(
        'hosts:',
        'vars:\n  patroni_tll: 10\n  synchronous_mode: true\n  haproxy_stat_page: 8405\n  demo_greeting: hello\ngroups:\n  dc1: {vars: {etcd_heartbeat: 50}}\nhosts:',
      ).replace(
        'pg3: {address: 10.77.0.13, roles: [postgres, etcd]}',
        'pg3: {address: 10.77.0.13, roles: [postgres, etcd], groups: [dc1], vars: {keepalived_unicst: true, pg_hba: [x]}}',
      ),
    );
    expect(errorLines(e)).toEqual([
      {
        line: 7,
        field: 'vars.patroni_tll',
        message: "variable 'patroni_tll' is not read by pgha: did you mean 'patroni_ttl'?",
      },
      {
        line: 8,
        field: 'vars.synchronous_mode',
        message: "variable 'synchronous_mode' is not read by pgha: did you mean 'patroni_synchronous_mode'?",
      },
      {
        line: 9,
        field: 'vars.haproxy_stat_page',
        message: "variable 'haproxy_stat_page' is not read by pgha: did you mean 'haproxy_stats_port'?",
      },
      {
        line: 12,
        field: 'groups.dc1.vars.etcd_heartbeat',
        message: "variable 'etcd_heartbeat' is not read by pgha: did you mean 'etcd_heartbeat_interval'?",
      },
      {
        line: 18,
        field: 'hosts.pg3.vars.keepalived_unicst',
        message: "variable 'keepalived_unicst' is not read by pgha: did you mean 'keepalived_unicast'?",
      },
      {
        line: 18,
        field: 'hosts.pg3.vars.pg_hba',
        message: "variable 'pg_hba' is not read by pgha: no component declares it",
      },
    ]);
  });

  it('an undeclared name with a component prefix is an error even far from every declared one; so is any other name', () => {
    const e = loadError(
      BASE.replace(
        'hosts:',
        'vars:\n  postgres_shared_buffers: 1GB\n  patroni_failsafe_mode: true\n  level: fast\n  demo_greting: hi\ngroups:\n  dc1: {vars: {greeting_text: hi}}\nhosts:',
      ).replace(
        'pg3: {address: 10.77.0.13, roles: [postgres, etcd]}',
        'pg3: {address: 10.77.0.13, roles: [postgres, etcd], vars: {shared_buffers: 1GB}}',
      ),
    );
    expect(errorLines(e)).toEqual([
      {
        line: 7,
        field: 'vars.postgres_shared_buffers',
        message: expect.stringMatching(
          /^variable 'postgres_shared_buffers' is not read by pgha: did you mean 'postgres_[a-z_]+'\?$/,
        ),
      },
      {
        line: 8,
        field: 'vars.patroni_failsafe_mode',
        message: expect.stringMatching(
          /^variable 'patroni_failsafe_mode' is not read by pgha: did you mean 'patroni_[a-z_]+'\?$/,
        ),
      },
      { line: 9, field: 'vars.level', message: "variable 'level' is not read by pgha: no component declares it" },
      {
        line: 10,
        field: 'vars.demo_greting',
        message: "variable 'demo_greting' is not read by pgha: did you mean 'demo_greeting'?",
      },
      {
        line: 12,
        field: 'groups.dc1.vars.greeting_text',
        message: "variable 'greeting_text' is not read by pgha: no component declares it",
      },
      {
        line: 18,
        field: 'hosts.pg3.vars.shared_buffers',
        message: "variable 'shared_buffers' is not read by pgha: no component declares it",
      },
    ]);
    expect(load(BASE.replace('hosts:', 'vars:\n  demo_greeting: hi\n  demo_port: 8081\nhosts:')).vars).toEqual({
      demo_greeting: 'hi',
      demo_port: 8081,
    });
  });

  it('a parameter Patroni takes from the DCS only is refused in group or host vars when it differs from the cluster-wide one', () => {
    const e = loadError(
      BASE.replace(
        'hosts:',
        [
          'vars:',
          '  postgres_parameters: {max_connections: 300, work_mem: 4MB}',
          'groups:',
          '  big:',
          '    vars:',
          '      postgres_parameters:',
          '        max_connections: 300',
          '        max_locks_per_transaction: 128',
          '        work_mem: 64MB',
          'hosts:',
        ].join('\n'),
      ).replace(
        'pg3: {address: 10.77.0.13, roles: [postgres, etcd]}',
        'pg3: {address: 10.77.0.13, roles: [postgres, etcd], groups: [big], vars: {postgres_parameters: {wal_level: logical, hot_standby: true, shared_buffers: 1GB}}}',
      ),
    );
    expect(errorLines(e)).toEqual([
      {
        line: 13,
        field: 'groups.big.vars.postgres_parameters.max_locks_per_transaction',
        message:
          "postgres_parameters.max_locks_per_transaction (128) can only be set for the whole cluster (the cluster-wide value is not set there): Patroni ignores it in a member's own config.yml and takes it from the DCS only (it must be equal on every member); set it in the top-level vars",
      },
      {
        line: 20,
        field: 'hosts.pg3.vars.postgres_parameters.wal_level',
        message: expect.stringMatching(
          /^postgres_parameters\.wal_level \("logical"\) can only be set for the whole cluster \(the cluster-wide value is "replica"\): .*; set it in the top-level vars$/,
        ),
      },
    ]);
    expect(e.message).toContain(`${e.file}:13: groups.big.vars.postgres_parameters.max_locks_per_transaction:`);
  });
});
