// Prometheus metrics on a real lab: pgha up with every exporter on and Prometheus on lb1 (role monitor), then every
// endpoint that `pgha status --endpoints --json` lists is fetched from a lab host and answers with its metrics
// (pg_up 1, node_, haproxy_, etcd_, patroni_, prometheus_); Prometheus sees every one up; the exporters listen on
// the host's address only; the Prometheus snippet names every target; a second pgha up changes nothing.
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { connect, expectOk, inventory, pgha, tempInventory } from './helpers.js';
import type { SshTransport } from '../../src/engine/transport.js';
import { patroniGet } from '../../bench/patroni-get.js';
import { httpGetScript, parseHttpResponse } from '../../src/components/common.js';

const file = tempInventory('metrics.yml');
let transports: Map<string, SshTransport> | undefined;

interface Endpoint {
  job: string;
  host: string;
  address: string;
  port: number;
  url: string;
}
let endpoints: Endpoint[] = [];

/** What each job's answer must hold. */
const EXPECT: Record<string, RegExp> = {
  node: /^node_cpu_seconds_total\{/m,
  postgres: /^pg_up 1$/m,
  haproxy: /^haproxy_(frontend|backend|server)_/m,
  etcd: /^etcd_server_has_leader 1$/m,
  patroni: /^patroni_postgres_running\{[^}]*\} 1$/m,
  prometheus: /^prometheus_build_info\{/m,
};

/** GET from a lab host (bash /dev/tcp on that host). */
async function fetchFrom(t: SshTransport, address: string, port: number, path = '/metrics') {
  const r = await t.exec(httpGetScript(address, port, path, 10), { timeoutMs: 30_000 });
  return parseHttpResponse(r.stdout);
}

afterAll(async () => {
  await Promise.all([...(transports?.values() ?? [])].map((t) => t.close()));
  await pgha(['destroy', '-i', file, '--yes']);
});

describe('metrics', () => {
  it('pgha up builds the cluster with every exporter on', async () => {
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up');
    console.log(`fresh pgha up with metrics: ${r.seconds.toFixed(1)} s`);
    transports = await connect(await inventory(file));
  });

  it('status --endpoints --json lists node, postgres, haproxy, etcd and patroni endpoints', async () => {
    const r = await pgha(['status', '--endpoints', '-i', file]);
    expectOk(r, 'pgha status --endpoints');
    endpoints = r.json.endpoints as Endpoint[];
    const rows = endpoints.map((e) => `${e.job} ${e.host} ${e.url}`).sort();
    expect(rows).toEqual(
      [
        ...['lb1 10.231.200.21', 'pg1 10.231.200.11', 'pg2 10.231.200.12', 'pg3 10.231.200.13'].map((h) => {
          const [n, a] = h.split(' ');
          return `node ${n} http://${a}:9100/metrics`;
        }),
        ...[1, 2, 3].map((i) => `postgres pg${i} http://10.231.200.1${i}:9187/metrics`),
        'haproxy lb1 http://10.231.200.21:8405/metrics',
        ...[1, 2, 3].map((i) => `etcd pg${i} http://10.231.200.1${i}:2381/metrics`),
        ...[1, 2, 3].map((i) => `patroni pg${i} https://10.231.200.1${i}:8008/metrics`),
        'prometheus lb1 http://10.231.200.21:9090/metrics',
      ].sort(),
    );
  });

  it('every listed endpoint answers a lab host with its metrics', async () => {
    // From lb1 for the postgres hosts' endpoints and from pg1 for lb1's: always across the lab network. Patroni's
    // (HTTPS with the inventory's CA, tls_enabled by default) from this machine, verified against that CA.
    const bad: string[] = [];
    for (const e of endpoints) {
      const from = transports!.get(e.host === 'lb1' ? 'pg1' : 'lb1')!;
      const r = e.url.startsWith('https:')
        ? await patroniGet({ file }, e.address, '/metrics', { port: e.port, timeoutMs: 10_000 }).then(
            async (a) => ({ status: a.status, body: await a.text() }),
            (err: Error) => ({ status: 0, body: err.message }),
          )
        : await fetchFrom(from, e.address, e.port);
      if (r.status !== 200 || !EXPECT[e.job]!.test(r.body))
        bad.push(
          `${e.url} from ${e.url.startsWith('https:') ? 'here' : from.host.name}: ${r.status} ${r.body.slice(0, 200)}`,
        );
    }
    expect(bad).toEqual([]);
  });

  it("the exporters listen on the host's own address only (not on loopback)", async () => {
    for (const [host, ports] of [
      ['pg1', [9100, 9187]],
      ['lb1', [9100, 8405, 9090]],
    ] as const) {
      const t = transports!.get(host)!;
      for (const port of ports) {
        expect((await fetchFrom(t, '127.0.0.1', port)).status).toBe(0);
        expect((await fetchFrom(t, t.host.address, port)).status).toBe(200);
      }
    }
  });

  it('Prometheus on the monitor host scrapes every listed endpoint, each up', async () => {
    const r = await fetchFrom(transports!.get('pg1')!, '10.231.200.21', 9090, '/api/v1/targets?state=active');
    expect(r.status).toBe(200);
    const active = (JSON.parse(r.body) as { data: { activeTargets: { scrapeUrl: string; health: string }[] } }).data
      .activeTargets;
    expect(active.map((t) => `${t.scrapeUrl} ${t.health}`).sort()).toEqual(endpoints.map((e) => `${e.url} up`).sort());
  });

  it('--format prometheus prints a scrape_configs section with every target', async () => {
    const r = await pgha(['status', '--endpoints', '--format', 'prometheus', '-i', file], { json: false });
    expectOk(r, 'pgha status --endpoints --format prometheus');
    const doc = parse(r.stdout) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[]; labels: { host: string } }[] }[];
    };
    const targets = doc.scrape_configs.flatMap((j) =>
      j.static_configs.map((c) => `${j.job_name} ${c.labels.host} ${c.targets.join(',')}`),
    );
    expect(targets.sort()).toEqual(
      endpoints.map((e) => `e2e-metrics-${e.job} ${e.host} ${e.address}:${e.port}`).sort(),
    );
  });

  it('a second pgha up changes nothing', async () => {
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up (again)');
    console.log(`no-op pgha up with metrics: ${r.seconds.toFixed(1)} s`);
    expect(r.json.changes).toEqual([]);
    expect(r.json.totals.restarted).toEqual([]);
    expect(r.json.totals.reloaded).toEqual([]);
  });
});
