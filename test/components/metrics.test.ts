// The metrics component: rendered exporter configs, the monitoring role's SQL on stdin, HAProxy's Prometheus
// frontend, the switches' validation and the monitor role (endpoints: metrics-endpoints.test.ts).
import { describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { CommandResource, FileResource, Resource } from '../../src/engine/types.js';
import {
  metricsSteps,
  NODE_EXPORTER_DEFAULT,
  POSTGRES_EXPORTER_DEFAULT,
  monitorRoleTest,
  keepEnvFilePrivate,
} from '../../src/components/metrics/steps.js';
import { metricsEndpoints } from '../../src/components/metrics/endpoints.js';
import {
  PROMETHEUS_CONFIG,
  PROMETHEUS_DEFAULT,
  prometheusConfig,
  targetsDown,
} from '../../src/components/metrics/monitor.js';
import { HAPROXY_CONFIG, haproxySteps } from '../../src/components/haproxy/steps.js';
import { ctxFor, makeInventory, plan, stepById } from './helpers.js';
import { fakeBin } from '../engine/fake-bin.js';
import { LocalTransport } from '../engine/local-transport.js';
import { errorLines, load, loadError } from '../inventory/helpers.js';

const ON = { metrics_node_exporter: true, metrics_postgres_exporter: true, metrics_haproxy: true };

const fileAt = (rs: Resource[], path: string) => rs.find((r) => r.kind === 'file' && r.path === path) as FileResource;

/** The value of VAR="..." or VAR='...' in an /etc/default file, as the shell would read it. */
const envValue = (text: string, name: string) => new RegExp(`^${name}=["']([^"']*)["']$`, 'm').exec(text)?.[1];

describe('metrics switches', () => {
  it('are off by default: no exporter is installed, only etcd and Patroni are listed', async () => {
    const inv = makeInventory();
    for (const id of ['metrics.node_exporter', 'metrics.postgres_role', 'metrics.postgres_exporter'])
      expect(await plan(stepById(metricsSteps, id), ctxFor(inv, 'pg1'), { primary: true })).toEqual([]);
    expect([...new Set(metricsEndpoints(inv).map((e) => e.job))]).toEqual(['etcd', 'patroni']);
    const cfg = (await plan(stepById(haproxySteps, 'haproxy.config'), ctxFor(inv, 'lb1'), {})).find(
      (r) => r.kind === 'file' && r.path === HAPROXY_CONFIG,
    ) as FileResource;
    expect(cfg.content).not.toContain('prometheus');
  });

  it('a switch that is not a boolean is refused at its line', () => {
    const e = loadError(
      [
        'cluster: c',
        'provider: static',
        'network: {subnet: 10.0.0.0/24}',
        'vars:',
        '  metrics_node_exporter: "yes"',
        'hosts:',
        '  pg1: {address: 10.0.0.11, roles: [postgres, etcd]}',
        '',
      ].join('\n'),
    );
    expect(errorLines(e)).toEqual([expect.objectContaining({ line: 5, field: 'vars.metrics_node_exporter' })]);
  });

  it('two exporters on one port are refused', () => {
    const e = loadError(
      [
        'cluster: c',
        'provider: static',
        'network: {subnet: 10.0.0.0/24}',
        'vars:',
        '  metrics_haproxy_port: 9100',
        'hosts:',
        '  pg1: {address: 10.0.0.11, roles: [postgres, etcd]}',
        '',
      ].join('\n'),
    );
    expect(e.message).toMatch(/metrics_node_exporter_port and metrics_haproxy_port are both 9100/);
  });

  it('a misspelt switch is named with the declared one', () => {
    const e = loadError(
      [
        'cluster: c',
        'provider: static',
        'network: {subnet: 10.0.0.0/24}',
        'vars:',
        '  metrics_node_exporter_on: true',
        'hosts:',
        '  pg1: {address: 10.0.0.11, roles: [postgres, etcd]}',
        '',
      ].join('\n'),
    );
    expect(e.message).toMatch(/did you mean 'metrics_node_exporter/);
  });
});

describe('node exporter', () => {
  it('listens on the host address only, with a light set of collectors, configured before the install', async () => {
    const rs = await plan(stepById(metricsSteps, 'metrics.node_exporter'), ctxFor(makeInventory(ON), 'lb1'), {});
    expect(rs.map((r) => r.kind)).toEqual(['file', 'packages', 'service']);
    const args = envValue(fileAt(rs, NODE_EXPORTER_DEFAULT).content, 'ARGS')!.split(' ');
    expect(args).toContain('--web.listen-address=10.77.0.21:9100');
    expect(args).toContain('--collector.disable-defaults');
    expect(args.filter((a) => a.startsWith('--collector.') && a !== '--collector.disable-defaults')).toHaveLength(11);
    expect(args.join(' ')).not.toMatch(/0\.0\.0\.0|--web.listen-address=:/);
  });

  it('follows metrics_node_exporter_port', async () => {
    const inv = makeInventory({ ...ON, metrics_node_exporter_port: 9200 });
    const rs = await plan(stepById(metricsSteps, 'metrics.node_exporter'), ctxFor(inv, 'pg2'), {});
    expect(envValue(fileAt(rs, NODE_EXPORTER_DEFAULT).content, 'ARGS')).toMatch(/listen-address=10\.77\.0\.12:9200 /);
  });
});

describe('postgres exporter', () => {
  it('connects over the local socket as prometheus, listens on the host address; env file 0600', async () => {
    const rs = await plan(stepById(metricsSteps, 'metrics.postgres_exporter'), ctxFor(makeInventory(ON), 'pg1'), {});
    const f = fileAt(rs, POSTGRES_EXPORTER_DEFAULT);
    expect([f.owner, f.group, f.mode]).toEqual(['root', 'root', '0600']);
    expect(f.notify).toEqual([{ service: 'prometheus-postgres-exporter', action: 'restart' }]);
    const dsn = envValue(f.content, 'DATA_SOURCE_NAME')!;
    expect(Object.fromEntries(dsn.split(' ').map((kv) => kv.split('=')))).toEqual({
      user: 'prometheus',
      host: '/var/run/postgresql',
      port: '5432',
      dbname: 'postgres',
      sslmode: 'disable',
    });
    expect(envValue(f.content, 'ARGS')).toBe('--web.listen-address=10.77.0.11:9187');
    expect(rs.map((r) => r.kind)).toEqual(['file', 'packages', 'command', 'service']);
  });

  it("puts the env file back to root 0600 after Debian's postinst made it prometheus's 0640", async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'pgha-metrics-')), 'env');
    writeFileSync(path, 'X=1\n');
    chmodSync(path, 0o640);
    const cmd = keepEnvFilePrivate(path) as CommandResource;
    const t = new LocalTransport(makeInventory().hosts[0]!);
    expect((await t.exec(cmd.unless!)).code).not.toBe(0);
    expect((await t.exec(cmd.script!)).code).toBe(0);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect((await t.exec(cmd.unless!)).code).toBe(0);
  });

  it('is not installed on a balancer', async () => {
    const step = stepById(metricsSteps, 'metrics.postgres_exporter');
    expect(await plan(step, ctxFor(makeInventory(ON), 'lb1'), {})).toEqual([]);
  });
});

describe('monitoring role', () => {
  const step = stepById(metricsSteps, 'metrics.postgres_role');

  it('is created on the primary only', async () => {
    const inv = makeInventory(ON);
    expect(await plan(step, ctxFor(inv, 'pg2'), { primary: false })).toEqual([]);
    expect(await plan(step, ctxFor(inv, 'lb1'), { primary: true })).toEqual([]);
    expect(await plan(step, ctxFor(inv, 'pg1'), { primary: true })).toHaveLength(1);
  });

  it('sends its SQL on stdin to psql as postgres over the socket (run against a fake runuser)', async () => {
    const [cmd] = (await plan(step, ctxFor(makeInventory(ON), 'pg1'), { primary: true })) as CommandResource[];
    const { t, calls, fake } = fakeBin({ runuser: 'cat > "$FAKE/stdin"' });
    const r = await t.exec(cmd!.script!, { stdin: cmd!.stdin });
    expect(r.code).toBe(0);
    const [call] = calls();
    expect(call).toBe(
      'runuser -u postgres -- psql -X -At -v ON_ERROR_STOP=1 -h /var/run/postgresql -p 5432 -d postgres -q -f -',
    );
    const sql = readFileSync(`${fake}/stdin`, 'utf8');
    expect(sql).toMatch(/IF NOT EXISTS \(SELECT 1 FROM pg_catalog\.pg_roles WHERE rolname = 'prometheus'\)/);
    expect(sql).toMatch(/CREATE ROLE "prometheus" LOGIN;/);
    expect(sql).toMatch(/GRANT pg_monitor TO "prometheus";/);
  });

  it('its unless test passes only when psql counts one fitting role', async () => {
    for (const [count, code] of [
      ['1', 0],
      ['0', 1],
      ['', 1],
    ] as const) {
      const { t, calls } = fakeBin({ runuser: `printf '%s\\n' '${count}'` });
      const r = await t.exec(monitorRoleTest(5432));
      expect(r.code === 0 ? 0 : 1).toBe(code);
      expect(calls()[0]).toMatch(/pg_has_role\(r\.oid, 'pg_monitor', 'member'\)/);
    }
  });
});

describe('haproxy prometheus frontend', () => {
  it('binds the host address with the built-in exporter on /metrics, after the listen sections', async () => {
    const inv = makeInventory(ON);
    const cfg = (
      (await plan(stepById(haproxySteps, 'haproxy.config'), ctxFor(inv, 'lb2'), {})).find(
        (r) => r.kind === 'file' && r.path === HAPROXY_CONFIG,
      ) as FileResource
    ).content;
    const block = cfg.slice(cfg.indexOf('frontend prometheus'));
    expect(cfg.indexOf('frontend prometheus')).toBeGreaterThan(cfg.indexOf('listen all'));
    expect(block.split('\n').slice(0, 4)).toEqual([
      'frontend prometheus',
      '    mode http',
      '    bind 10.77.0.22:8405',
      '    http-request use-service prometheus-exporter if { path /metrics }',
    ]);
  });
});

describe('monitor role (Prometheus)', () => {
  const invWithMonitor = () => {
    const inv = makeInventory(ON);
    const lb1 = inv.hosts.find((h) => h.name === 'lb1')!;
    lb1.roles = [...lb1.roles, 'monitor'];
    return inv;
  };

  it('only on monitor hosts: its files before the package, listening on the host address', async () => {
    const step = stepById(metricsSteps, 'metrics.prometheus');
    const inv = invWithMonitor();
    expect(await plan(step, ctxFor(inv, 'lb2'), {})).toEqual([]);
    const rs = await plan(step, ctxFor(inv, 'lb1'), {});
    // The CA file first: Patroni's /metrics answers HTTPS only with tls_enabled (the default).
    expect(rs.map((r) => r.kind)).toEqual(['directory', 'file', 'file', 'file', 'packages', 'service']);
    expect(rs[1]).toMatchObject({ kind: 'file', path: '/etc/prometheus/pgha-ca.crt', mode: '0644' });
    expect(rs[0]).toEqual({ kind: 'directory', path: '/etc/prometheus', mode: '0755' });
    expect(envValue(fileAt(rs, PROMETHEUS_DEFAULT).content, 'ARGS')).toBe('--web.listen-address=10.77.0.21:9090');
    const cfg = fileAt(rs, PROMETHEUS_CONFIG);
    expect(cfg.notify).toEqual([{ service: 'prometheus', action: 'reload' }]);
    expect(cfg.validate).toContain('promtool check config');
  });

  it('prometheus.yml scrapes every endpoint of the cluster and itself', () => {
    const inv = invWithMonitor();
    const doc = parse(prometheusConfig(ctxFor(inv, 'lb1'))) as {
      global: { scrape_interval: string };
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    expect(doc.global.scrape_interval).toBe('15s');
    const targets = doc.scrape_configs.flatMap((j) => j.static_configs.flatMap((c) => c.targets));
    expect(targets).toEqual(metricsEndpoints(inv).map((e) => `${e.address}:${e.port}`));
    expect(targets).toContain('10.77.0.21:9090');
    expect(doc.scrape_configs.at(-1)!.job_name).toBe('demo-prometheus');
  });

  it('reads /api/v1/targets: every target up, or which are not', () => {
    const answer = (healths: string[]) =>
      JSON.stringify({
        status: 'success',
        data: {
          activeTargets: healths.map((health, i) => ({
            labels: { job: `demo-node` },
            scrapeUrl: `http://10.77.0.1${i}:9100/metrics`,
            health,
          })),
        },
      });
    expect(targetsDown(answer(['up', 'up']), 2)).toBe('');
    expect(targetsDown(answer(['up', 'down']), 2)).toBe('demo-node http://10.77.0.11:9100/metrics: down');
    expect(targetsDown(answer(['up']), 2)).toBe('1 targets, want 2');
    expect(targetsDown('<html>', 2)).toBe('no JSON from /api/v1/targets');
  });

  it('the monitor role is accepted in an inventory, and a port taken twice is refused', () => {
    const e = loadError(
      [
        'cluster: c',
        'provider: static',
        'network: {subnet: 10.0.0.0/24}',
        'vars:',
        '  metrics_prometheus_port: 9187',
        'hosts:',
        '  pg1: {address: 10.0.0.11, roles: [postgres, etcd, monitor]}',
        '',
      ].join('\n'),
    );
    expect(e.message).toMatch(/metrics_postgres_exporter_port and metrics_prometheus_port are both 9187/);
    expect(e.message).not.toMatch(/unknown role/);
  });
});

describe("HAProxy's Prometheus port", () => {
  const inv = (vars: string[], roles = 'haproxy') =>
    [
      'cluster: c',
      'provider: static',
      'network: {subnet: 10.0.0.0/24, vip: 10.0.0.100}',
      'vars:',
      ...vars.map((v) => `  ${v}`),
      'hosts:',
      `  lb1: {address: 10.0.0.21, roles: [${roles}]}`,
      '  pg1: {address: 10.0.0.11, roles: [postgres, etcd]}',
      '',
    ].join('\n');

  it('may not be one HAProxy already binds', () => {
    const e = loadError(inv(['metrics_haproxy: true', 'metrics_haproxy_port: 8404']));
    expect(e.message).toMatch(/metrics_haproxy_port and haproxy_stats_port are both 8404/);
    const e2 = loadError(inv(['metrics_haproxy: true', 'haproxy_all_port: 8405']));
    expect(e2.message).toMatch(/metrics_haproxy_port and haproxy_all_port are both 8405/);
  });

  it('is free while the switch is off', () => {
    expect(() => load(inv(['metrics_haproxy_port: 8404']))).not.toThrow();
  });
});
