import { describe, expect, it } from 'vitest';
import { defineSettings } from '../../src/components/settings.js';
import { catalogOf } from '../../src/components/entry.js';
import { catalog, components, SECRET_KEYS } from '../../src/components/index.js';
import { etcdSettings } from '../../src/components/etcd/settings.js';
import { patroniSettings } from '../../src/components/patroni/settings.js';
import { keepalivedSettings, routerIdFor, vrrpPassword } from '../../src/components/keepalived/settings.js';
import { UserError } from '../../src/util/errors.js';
import type { Host } from '../../src/inventory/types.js';
import { makeInventory } from './helpers.js';

const host = (vars: Record<string, unknown>): Host => ({
  name: 'h1',
  address: '10.0.0.1',
  roles: ['demo'],
  groups: [],
  ssh: { user: 'root', port: 22, become: false },
  vars,
});
const inv = { file: '/tmp/inv.yml' };

const demo = defineSettings(
  {
    port: { name: 'demo_port', type: 'int', default: 80, min: 1, max: 65535, doc: 'Port.', level: 'cluster' },
    size: { name: 'demo_size', type: 'int', default: 3, doc: 'Size.', level: 'host' },
    label: { name: 'demo_label', type: 'string', default: 'x', pattern: '^[a-z]+$', doc: 'Label.', level: 'group' },
    on: { name: 'demo_on', type: 'bool', default: false, doc: 'On.', level: 'cluster' },
    opts: {
      name: 'demo_opts',
      type: 'map',
      default: { b: 1, a: 'x' },
      keyPattern: '^[a-z]+$',
      doc: 'Options.',
      level: 'cluster',
    },
  },
  [
    {
      uses: ['port', 'size'],
      roles: ['demo'],
      check: (s) => (s.size > s.port ? `demo_size (${s.size}) above demo_port (${s.port})` : undefined),
    },
  ],
);

function userError(f: () => unknown): UserError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error('expected a UserError');
}

describe('defineSettings', () => {
  it('reads defaults, then host vars; a map merges over its default in key order', () => {
    expect(demo.read(inv, host({}))).toEqual({ port: 80, size: 3, label: 'x', on: false, opts: { a: 'x', b: 1 } });
    const s = demo.read(
      inv,
      host({ demo_port: 8080, demo_label: 'abc', demo_on: true, demo_opts: { c: true, a: 'y' } }),
    );
    expect(s).toEqual({ port: 8080, size: 3, label: 'abc', on: true, opts: { a: 'y', b: 1, c: true } });
    expect(Object.keys(s.opts)).toEqual(['a', 'b', 'c']);
    expect(demo.defaults).toEqual({
      demo_port: 80,
      demo_size: 3,
      demo_label: 'x',
      demo_on: false,
      demo_opts: { b: 1, a: 'x' },
    });
    expect(demo.list.map((d) => d.name)).toEqual(['demo_port', 'demo_size', 'demo_label', 'demo_on', 'demo_opts']);
  });

  it('a bad value names the variable, the host, the range or pattern, and the file', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ demo_port: 0 }, /^variable demo_port on host h1 must be an integer 1\.\.65535, got 0$/],
      [{ demo_port: 1.5 }, /must be an integer 1\.\.65535, got 1\.5/],
      [{ demo_size: -1 }, /^variable demo_size on host h1 must be an integer 0\.\.9007199254740991, got -1$/],
      [
        { demo_label: 'A b' },
        /^variable demo_label on host h1 must be a string matching \/\^\[a-z\]\+\$\/, got "A b"$/,
      ],
      [{ demo_on: 'yes' }, /^variable demo_on on host h1 must be true or false, got "yes"$/],
      [{ demo_opts: [1] }, /^variable demo_opts on host h1 must be a map, got \[1\]$/],
      [{ demo_opts: { Bad: 1 } }, /^variable demo_opts\.Bad on host h1 must be a parameter name, got "Bad"$/],
      [
        { demo_opts: { ok: [1] } },
        /^variable demo_opts\.ok on host h1 must be a string, number or boolean, got \[1\]$/,
      ],
    ];
    for (const [vars, msg] of cases) {
      const e = userError(() => demo.read(inv, host(vars)));
      expect(e.message).toMatch(msg);
      expect(e.exitCode).toBe(2);
    }
    expect(userError(() => demo.read(inv, host({ demo_port: 0 }))).hint).toBe('fix vars.demo_port in the inventory');
  });

  it('a rule is checked when reading, and at load with the default for a value of the wrong type', () => {
    expect(userError(() => demo.read(inv, host({ demo_port: 2, demo_size: 5 }))).message).toBe(
      'demo_size (5) above demo_port (2)',
    );
    const [rule] = demo.rules;
    expect(rule!.vars).toEqual(['demo_port', 'demo_size']);
    expect(rule!.roles).toEqual(['demo']);
    expect(rule!.check({ demo_port: 2, demo_size: 5 })).toBe('demo_size (5) above demo_port (2)');
    expect(rule!.check({ demo_port: 2 })).toBe('demo_size (3) above demo_port (2)');
    expect(rule!.check({ demo_port: 'two', demo_size: 5 })).toBeUndefined();
    expect(rule!.check({ demo_port: 4 })).toBeUndefined();
  });
});

describe('the registry', () => {
  it('collects roles, variables, prefixes, rules and secrets from the components, in registry order', () => {
    expect(catalog.roles.map((r) => r.name)).toEqual(['etcd', 'postgres', 'haproxy', 'monitor', 'backup', 'client']);
    expect(catalog.prefixes).toEqual([
      'etcd_',
      'patroni_',
      'postgres_',
      'pgbouncer_',
      'haproxy_pooled_',
      'haproxy_',
      'keepalived_',
      'metrics_',
      'tls_',
      'backup_',
      'firewall_',
      'packages_',
      'demo_',
    ]);
    expect(catalog.settings[0]!.name).toBe('etcd_client_port');
    expect(catalog.settings.at(-1)!.name).toBe('demo_port');
    expect(catalog.rules.map((r) => r.vars[0])).toEqual([
      'patroni_ttl',
      'pgbouncer_min_pool_size',
      'pgbouncer_max_db_connections',
      'haproxy_pooled_primary_port',
      'pgbouncer_default_pool_size',
      'postgres_databases',
      'metrics_node_exporter_port',
      'metrics_haproxy_port',
      'backup_full_schedule',
      'backup_diff_schedule',
      'backup_incr_schedule',
      'firewall_admin_cidrs',
      'firewall_client_cidrs',
      'firewall_open_tcp_ports',
    ]);
    expect(catalog.inventoryRules).toHaveLength(1);
    expect(SECRET_KEYS.map((s) => s.key)).toEqual([
      'postgres_superuser_password',
      'replication_password',
      'rewind_password',
      'patroni_api_password',
      'pgbouncer_auth_password',
      'haproxy_stats_password',
      'vrrp_password',
    ]);
    expect(Object.keys(components)).toEqual([
      'etcd',
      'etcd-tls-move',
      'patroni',
      'pgbouncer',
      'access',
      'haproxy',
      'keepalived',
      'metrics',
      'backup',
      'firewall',
      'client',
      'packages',
      'verify',
    ]);
  });

  it('refuses a variable declared by two components', () => {
    const other = defineSettings({ port: { name: 'demo_port', type: 'int', default: 1, doc: 'Port.', level: 'host' } });
    const c = { name: 'x', steps: [] };
    expect(() =>
      catalogOf([
        { component: c, settings: demo },
        { component: c, settings: other },
      ]),
    ).toThrow(/demo_port is declared by two components/);
  });

  it('components derive what an empty or zero value means', () => {
    const inv = makeInventory();
    const h = inv.hosts[0]!;
    expect(etcdSettings(inv, h).etcdToken).toBe('pgha-demo');
    expect(patroniSettings(inv, h)).toMatchObject({
      scope: 'demo',
      pgDataDir: '/var/lib/postgresql/15/patroni',
      pgBinDir: '/usr/lib/postgresql/15/bin',
    });
    expect(keepalivedSettings(inv, h).routerId).toBe(routerIdFor('demo'));
    const set = makeInventory({
      etcd_initial_cluster_token: 'tok',
      patroni_scope: 'main',
      postgres_version: 16,
      keepalived_virtual_router_id: 7,
    });
    const g = set.hosts[0]!;
    expect(etcdSettings(set, g).etcdToken).toBe('tok');
    expect(patroniSettings(set, g)).toMatchObject({
      scope: 'main',
      pgDataDir: '/var/lib/postgresql/16/patroni',
      pgBinDir: '/usr/lib/postgresql/16/bin',
    });
    expect(keepalivedSettings(set, g).routerId).toBe(7);
  });

  it('the VRRP password may not be longer than keepalived reads', () => {
    expect(vrrpPassword({ secrets: { vrrp_password: 'Abcd1234' } })).toBe('Abcd1234');
    expect(userError(() => vrrpPassword({ secrets: { vrrp_password: 'Abcd12345' } })).message).toMatch(
      /longer than 8 characters/,
    );
    expect(userError(() => vrrpPassword({ secrets: {} })).message).toMatch(/secret vrrp_password is missing/);
  });
});
