import { describe, expect, it } from 'vitest';
import { components } from '../../src/components/index.js';
import { PACKAGES_STEP } from '../../src/components/packages/index.js';
import { findPlaybook, loadPlaybook, resolvePlays } from '../../src/playbook/load.js';
import { POLICY_RC_D } from '../../src/components/etcd/steps.js';
import { CREATECLUSTER_DROPIN } from '../../src/components/patroni/steps.js';
import type { Resource } from '../../src/engine/types.js';
import type { Inventory } from '../../src/inventory/types.js';
import { load } from '../inventory/helpers.js';
import { ctxFor } from './helpers.js';
import { BASE } from '../inventory/helpers.js';

const LAYOUT = BASE;

/** The inventory of LAYOUT with these cluster vars and extra host lines. */
function inventory(vars: Record<string, unknown> = {}, extraHosts = ''): Inventory {
  const v = Object.keys(vars).length
    ? `vars:\n${Object.entries(vars)
        .map(([k, x]) => `  ${k}: ${JSON.stringify(x)}`)
        .join('\n')}\n`
    : '';
  return load(`${LAYOUT}${extraHosts}${v}`);
}

/** What packages.all of the cluster playbook plans on `host` (installed: the packages dpkg reports). */
async function atOnce(inv: Inventory, host: string, installed = new Set<string>()): Promise<Resource[]> {
  const steps = resolvePlays(loadPlaybook(findPlaybook('cluster'), components), inv, components);
  const at = steps.findIndex((s) => s.step.id === PACKAGES_STEP);
  expect(steps.slice(0, at).map((s) => s.step.id)).toEqual(['firewall.config']); // right after the firewall
  expect(steps[at]!.hosts.map((h) => h.name)).toEqual(inv.hosts.map((h) => h.name));
  return await steps[at]!.step.resources(ctxFor(inv, host), { installed });
}

const names = (rs: Resource[]) => rs.flatMap((r) => (r.kind === 'packages' ? r.names : []));
const paths = (rs: Resource[]) => rs.flatMap((r) => (r.kind === 'file' || r.kind === 'directory' ? [r.path] : []));

const MEMBER = ['etcd-server', 'etcd-client', 'postgresql-15', 'postgresql-client-15', 'patroni', 'python3-etcd'];

describe('packages.all: every package of the run in one transaction', () => {
  it('collects, per host, the packages of the steps that run there, guards first, one packages resource last', async () => {
    const inv = inventory();
    const pg = await atOnce(inv, 'pg1');
    expect(names(pg)).toEqual(MEMBER);
    expect(pg.filter((r) => r.kind === 'packages')).toHaveLength(1);
    expect(pg.at(-1)!.kind).toBe('packages');
    expect(paths(pg)).toEqual([POLICY_RC_D, CREATECLUSTER_DROPIN]);
    expect(names(await atOnce(inv, 'lb1'))).toEqual(['haproxy', 'socat', 'keepalived']);
    expect(paths(await atOnce(inv, 'lb1'))).toEqual([]);
  });

  it('adds PgBouncer with pgbouncer_enabled, pgBackRest with a backup host, on the hosts that run them', async () => {
    const inv = inventory(
      { pgbouncer_enabled: true },
      '  bk1: {address: 10.77.0.31, roles: [backup]}\n  app1: {address: 10.77.0.41, roles: [client]}\n',
    );
    expect(names(await atOnce(inv, 'pg2'))).toEqual([
      'etcd-server',
      'etcd-client',
      'pgbackrest', // backup.install runs before Patroni's install: the run order
      ...MEMBER.slice(2),
      'pgbouncer',
    ]);
    expect(names(await atOnce(inv, 'bk1'))).toEqual(['pgbackrest']);
    expect(names(await atOnce(inv, 'lb2'))).toEqual(['haproxy', 'socat', 'keepalived']);
    expect(names(await atOnce(inv, 'app1'))).toEqual(['postgresql-client-15', 'etcd-client']);
    expect(names(await atOnce(inventory(), 'pg2'))).not.toContain('pgbouncer');
  });

  it('with metrics, writes the exporters and Prometheus configs before the install, without their restarts', async () => {
    const inv = inventory(
      { metrics_node_exporter: true, metrics_postgres_exporter: true },
      '  mon1: {address: 10.77.0.31, roles: [monitor]}\n',
    );
    const pg = await atOnce(inv, 'pg1');
    expect(names(pg)).toEqual([...MEMBER, 'prometheus-node-exporter', 'prometheus-postgres-exporter']);
    expect(paths(pg)).toEqual([
      POLICY_RC_D,
      CREATECLUSTER_DROPIN,
      '/etc/default/prometheus-node-exporter',
      '/etc/default/prometheus-postgres-exporter',
    ]);
    const env = pg.find((r) => r.kind === 'file' && r.path === '/etc/default/prometheus-postgres-exporter');
    expect(env).toMatchObject({ owner: 'root', group: 'root', mode: '0600' });
    expect(pg.some((r) => 'notify' in r && r.notify)).toBe(false);
    const mon = await atOnce(inv, 'mon1');
    expect(names(mon)).toEqual(['prometheus-node-exporter', 'prometheus']);
    expect(paths(mon)).toEqual([
      '/etc/default/prometheus-node-exporter',
      '/etc/prometheus',
      '/etc/prometheus/pgha-ca.crt', // Patroni's /metrics over HTTPS (tls_enabled)
      '/etc/default/prometheus',
      '/etc/prometheus/prometheus.yml',
    ]);
  });

  it('leaves out the guards of packages already installed, and plans nothing once all are', async () => {
    const inv = inventory();
    const etcdThere = await atOnce(inv, 'pg1', new Set(['etcd-server', 'etcd-client']));
    expect(names(etcdThere)).toEqual(MEMBER.slice(2));
    expect(paths(etcdThere)).toEqual([CREATECLUSTER_DROPIN]);
    expect(await atOnce(inv, 'pg1', new Set(MEMBER))).toEqual([]);
  });

  it('plans nothing with packages_at_once: false (each step installs its own)', async () => {
    const inv = inventory({ packages_at_once: false });
    expect(await atOnce(inv, 'pg1')).toEqual([]);
    expect(await atOnce(inv, 'lb1')).toEqual([]);
    // The steps still have their own packages.
    const steps = resolvePlays(loadPlaybook(findPlaybook('cluster'), components), inv, components);
    const install = steps.find((s) => s.step.id === 'etcd.install')!.step;
    expect(names(await install.resources(ctxFor(inv, 'pg1'), {}))).toEqual(['etcd-server', 'etcd-client']);
  });

  it('follows --limit: only the steps left on the host count', async () => {
    const inv = inventory();
    const limit = inv.hosts.filter((h) => h.name === 'lb1');
    const steps = resolvePlays(loadPlaybook(findPlaybook('cluster'), components), inv, components, limit);
    const all = steps.find((s) => s.step.id === PACKAGES_STEP)!;
    expect(all.hosts.map((h) => h.name)).toEqual(['lb1']);
    expect(names(await all.step.resources(ctxFor(inv, 'lb1'), { installed: new Set() }))).toEqual([
      'haproxy',
      'socat',
      'keepalived',
    ]);
  });

  it('refuses a packages_at_once that is no boolean', () => {
    expect(() => inventory({ packages_at_once: 'yes' })).toThrow(/packages_at_once/);
  });
});
