// The metrics component: rendered exporter configs, the monitoring role's SQL on stdin, HAProxy's Prometheus
// frontend, the switches' validation, the endpoint list, and the endpoint checks against a fake exporter.
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'yaml';
import type { CommandResource, FileResource, Resource } from '../../src/engine/types.js';
import {
  metricsSteps,
  NODE_EXPORTER_DEFAULT,
  POSTGRES_EXPORTER_DEFAULT,
  monitorRoleTest,
  keepEnvFilePrivate,
} from '../../src/components/metrics/steps.js';
import { metricsEndpoints, samples, scrapeConfigs, unexpected } from '../../src/components/metrics/endpoints.js';
import {
  PROMETHEUS_CONFIG,
  PROMETHEUS_DEFAULT,
  prometheusConfig,
  targetsDown,
} from '../../src/components/metrics/monitor.js';
import { probeEndpoints, verifyEndpoints } from '../../src/components/metrics/checks.js';
import { haproxySteps } from '../../src/components/haproxy/steps.js';
import { CheckError } from '../../src/util/errors.js';
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
    const cfg = (await plan(stepById(haproxySteps, 'haproxy.config'), ctxFor(inv, 'lb1'), {}))[0] as FileResource;
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
    const cfg = ((await plan(stepById(haproxySteps, 'haproxy.config'), ctxFor(inv, 'lb2'), {}))[0] as FileResource)
      .content;
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

describe('endpoint list', () => {
  const inv = makeInventory(ON);

  it('has every source on the hosts that run it, by job', () => {
    const list = metricsEndpoints(inv);
    const byJob = (j: string) => list.filter((e) => e.job === j).map((e) => `${e.host} ${e.url}`);
    expect(byJob('node').map((x) => x.split(' ')[0])).toEqual(['pg1', 'pg2', 'pg3', 'lb1', 'lb2']);
    expect(byJob('postgres')).toEqual([
      'pg1 http://10.77.0.11:9187/metrics',
      'pg2 http://10.77.0.12:9187/metrics',
      'pg3 http://10.77.0.13:9187/metrics',
    ]);
    expect(byJob('haproxy')).toEqual(['lb1 http://10.77.0.21:8405/metrics', 'lb2 http://10.77.0.22:8405/metrics']);
    expect(byJob('etcd')[0]).toBe('pg1 http://10.77.0.11:2379/metrics');
    expect(byJob('patroni')[2]).toBe('pg3 http://10.77.0.13:8008/metrics');
    expect(list).toHaveLength(5 + 3 + 2 + 3 + 3);
    expect(list.map((e) => e.job)).toEqual([...list.map((e) => e.job)].sort((a, b) => order(a) - order(b)));
  });

  it('a host var turns one source off on that host only', () => {
    const inv2 = makeInventory(ON);
    inv2.hosts.find((h) => h.name === 'pg3')!.vars = { ...ON, metrics_node_exporter: false, metrics_patroni: false };
    const list = metricsEndpoints(inv2);
    expect(list.filter((e) => e.host === 'pg3').map((e) => e.job)).toEqual(['postgres', 'etcd']);
  });

  it('the Prometheus snippet is YAML with one job per source and a target per host', () => {
    const doc = parse(scrapeConfigs('demo', metricsEndpoints(inv))) as {
      scrape_configs: {
        job_name: string;
        metrics_path: string;
        static_configs: { targets: string[]; labels: object }[];
      }[];
    };
    expect(doc.scrape_configs.map((j) => j.job_name)).toEqual([
      'demo-node',
      'demo-postgres',
      'demo-haproxy',
      'demo-etcd',
      'demo-patroni',
    ]);
    const pgJob = doc.scrape_configs[1]!;
    expect(pgJob.metrics_path).toBe('/metrics');
    expect(pgJob.static_configs).toEqual([
      { targets: ['10.77.0.11:9187'], labels: { cluster: 'demo', host: 'pg1' } },
      { targets: ['10.77.0.12:9187'], labels: { cluster: 'demo', host: 'pg2' } },
      { targets: ['10.77.0.13:9187'], labels: { cluster: 'demo', host: 'pg3' } },
    ]);
    expect(parse(scrapeConfigs('demo', []))).toEqual({ scrape_configs: [] });
  });
});

function order(j: string): number {
  return ['node', 'postgres', 'haproxy', 'etcd', 'patroni', 'prometheus'].indexOf(j);
}

describe('expected metrics', () => {
  it('reads samples with or without labels and checks the wanted value', () => {
    const text = [
      '# HELP pg_up Whether the last scrape could connect.',
      '# TYPE pg_up gauge',
      'pg_up 1',
      'pg_up_other 0',
      'patroni_postgres_running{scope="demo",name="pg1"} 1',
      'etcd_server_has_leader 0',
    ].join('\n');
    expect(samples(text, 'pg_up')).toEqual([{ labels: '', value: '1' }]);
    expect(unexpected('postgres', text)).toBeUndefined();
    expect(unexpected('patroni', text)).toBeUndefined();
    expect(unexpected('etcd', text)).toBe('etcd_server_has_leader is 0, want 1');
    expect(unexpected('node', text)).toMatch(/^no node_uname_info sample/);
    expect(unexpected('postgres', 'pg_up 0\n')).toBe('pg_up is 0, want 1');
  });
});

describe('endpoint checks against fake exporters', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.close();
  });

  async function serve(body: string): Promise<number> {
    const server = createServer((req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end('not here');
      res.setHeader('Content-Type', 'text/plain; version=0.0.4');
      res.end(body);
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as AddressInfo).port;
  }

  /** An inventory whose pg1 is this machine (127.0.0.1): its postgres exporter and its etcd on these ports. */
  function localInv(pgPort: number, etcdPort: number) {
    const inv = makeInventory();
    const pg1 = inv.hosts.find((h) => h.name === 'pg1')!;
    pg1.address = '127.0.0.1';
    pg1.vars = {
      metrics_postgres_exporter: true,
      metrics_postgres_exporter_port: pgPort,
      etcd_client_port: etcdPort,
      metrics_patroni: false,
    };
    return { ctx: { ...ctxFor(inv, 'pg1'), check: false }, t: new LocalTransport(pg1) };
  }

  it('passes when each endpoint answers as expected, all fetched in one round trip', async () => {
    const pg = await serve('# TYPE pg_up gauge\npg_up 1\npg_exporter_last_scrape_error 0\n');
    const etcd = await serve('etcd_server_has_leader 1\netcd_server_is_leader 0\n');
    const { ctx, t } = localInv(pg, etcd);
    await expect(verifyEndpoints(ctx, t, 3000)).resolves.toBeUndefined();
    expect(t.roundTrips).toBe(1);
    expect(t.scripts[0]).toContain(`/dev/tcp/127.0.0.1/${pg}`);
    expect(t.scripts[0]).toContain(`/dev/tcp/127.0.0.1/${etcd}`);
  });

  it('names the endpoint and the value seen when PostgreSQL is not reachable (pg_up 0)', async () => {
    const pg = await serve('pg_up 0\n');
    const etcd = await serve('etcd_server_has_leader 1\n');
    const { ctx, t } = localInv(pg, etcd);
    const e = await verifyEndpoints(ctx, t, 1500).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CheckError);
    const msg = String((e as Error).message);
    expect(msg).toContain(`http://127.0.0.1:${pg}/metrics: pg_up is 0, want 1`);
    expect(msg).not.toContain(`:${etcd}/metrics`);
  });

  it('fails when nothing listens there, and when the path is wrong', async () => {
    const closed = await serve('');
    servers.pop()!.close();
    const etcd = await serve('etcd_server_has_leader 1\n');
    const { ctx, t } = localInv(closed, etcd);
    const e = await verifyEndpoints(ctx, t, 1500).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CheckError);
    expect(String((e as Error).message)).toContain(`http://127.0.0.1:${closed}/metrics: does not answer`);
    const got = await probeEndpoints(t, [
      { job: 'etcd', host: 'pg1', address: '127.0.0.1', port: etcd, path: '/nope', url: '' },
    ]);
    expect(got).toEqual(['answered 404']);
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
    expect(rs.map((r) => r.kind)).toEqual(['directory', 'file', 'file', 'packages', 'service']);
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
