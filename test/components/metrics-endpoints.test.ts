// The metrics component's endpoints: the list by job and host, the Prometheus snippet, the expected samples, and the
// endpoint checks against fake exporters.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'yaml';
import { metricsEndpoints, samples, scrapeConfigs, unexpected } from '../../src/components/metrics/endpoints.js';
import { probeEndpoints, verifyEndpoints } from '../../src/components/metrics/checks.js';
import { CheckError } from '../../src/util/errors.js';
import { ctxFor, makeInventory } from './helpers.js';
import { LocalTransport } from '../engine/local-transport.js';

const ON = { metrics_node_exporter: true, metrics_postgres_exporter: true, metrics_haproxy: true };

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
    // With TLS (the default) etcd's client port wants a certificate: /metrics is read on the plain metrics port.
    expect(byJob('etcd')[0]).toBe('pg1 http://10.77.0.11:2381/metrics');
    const plain = metricsEndpoints(makeInventory({ ...ON, tls_enabled: false }));
    expect(plain.filter((e) => e.job === 'etcd').map((e) => e.url)[1]).toBe('http://10.77.0.12:2379/metrics');
    const moved = metricsEndpoints(makeInventory({ ...ON, etcd_metrics_port: 9379 }));
    expect(moved.filter((e) => e.job === 'etcd').map((e) => e.url)[2]).toBe('http://10.77.0.13:9379/metrics');
    expect(byJob('patroni')[2]).toBe('pg3 https://10.77.0.13:8008/metrics'); // tls_enabled by default
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
      etcd_metrics_port: etcdPort,
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
      { job: 'etcd', host: 'pg1', address: '127.0.0.1', port: etcd, path: '/nope', url: '', scheme: 'http' },
    ]);
    expect(got).toEqual(['answered 404']);
  });
});
