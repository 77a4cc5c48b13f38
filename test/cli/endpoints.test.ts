// `pgha status --endpoints` run as a user runs it (the built CLI), on a static inventory: it contacts nothing, so
// its table, its JSON and its Prometheus snippet come from the inventory alone.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'pgha-endpoints-'));
const inv = join(dir, 'prod.yml');
writeFileSync(
  inv,
  [
    'cluster: prod',
    'provider: static',
    'network: {subnet: 192.0.2.0/24, vip: 192.0.2.100}',
    'vars:',
    '  metrics_node_exporter: true',
    '  metrics_postgres_exporter: true',
    '  metrics_haproxy: true',
    'hosts:',
    '  lb1: {address: 192.0.2.21, roles: [haproxy], vars: {metrics_haproxy_port: 9101}}',
    '  pg1: {address: 192.0.2.11, roles: [postgres, etcd]}',
    '  pg2: {address: 192.0.2.12, roles: [postgres, etcd], vars: {metrics_node_exporter: false}}',
    '',
  ].join('\n'),
);

function pgha(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args, '-i', inv], { cwd: dir, env: { ...process.env, CI: '1' } });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

const WANT = [
  'node lb1 http://192.0.2.21:9100/metrics',
  'node pg1 http://192.0.2.11:9100/metrics',
  'postgres pg1 http://192.0.2.11:9187/metrics',
  'postgres pg2 http://192.0.2.12:9187/metrics',
  'haproxy lb1 http://192.0.2.21:9101/metrics',
  'etcd pg1 http://192.0.2.11:2381/metrics',
  'etcd pg2 http://192.0.2.12:2381/metrics',
  // Patroni's REST API answers HTTPS only with tls_enabled (the default).
  'patroni pg1 https://192.0.2.11:8008/metrics',
  'patroni pg2 https://192.0.2.12:8008/metrics',
];

describe('pgha status --endpoints', () => {
  it('--json lists job, host and URL of every endpoint', () => {
    const r = pgha(['status', '--endpoints', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { cluster: string; endpoints: { job: string; host: string; url: string }[] };
    expect(doc.cluster).toBe('prod');
    expect(doc.endpoints.map((e) => `${e.job} ${e.host} ${e.url}`)).toEqual(WANT);
  });

  it('prints a table, and honours --limit', () => {
    const r = pgha(['status', '--endpoints']);
    expect(r.code).toBe(0);
    const rows = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| Job'))
      .map((l) =>
        l
          .split('|')
          .map((c) => c.trim())
          .filter(Boolean)
          .join(' '),
      );
    expect(rows).toEqual(WANT);
    const lim = JSON.parse(pgha(['status', '--endpoints', '--json', '--limit', 'lb1']).stdout) as {
      endpoints: { host: string }[];
    };
    expect(new Set(lim.endpoints.map((e) => e.host))).toEqual(new Set(['lb1']));
  });

  it('--format prometheus prints a scrape_configs section Prometheus reads', () => {
    const r = pgha(['status', '--endpoints', '--format', 'prometheus']);
    expect(r.code).toBe(0);
    const doc = parse(r.stdout) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[]; labels: Record<string, string> }[] }[];
    };
    const flat = doc.scrape_configs.flatMap((j) =>
      j.static_configs.map((c) => `${j.job_name} ${c.labels.host} ${c.labels.cluster} ${c.targets.join(',')}`),
    );
    expect(flat).toEqual(
      WANT.map((w) => {
        const [job, host, url] = w.split(' ');
        return `prod-${job} ${host} prod ${new URL(url!).host}`;
      }),
    );
  });

  it('refuses --format without --endpoints, and an unknown format (exit 2)', () => {
    const a = pgha(['status', '--format', 'prometheus']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--format applies to --endpoints only');
    const b = pgha(['status', '--endpoints', '--format', 'xml']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('unknown --format xml');
  });
});
