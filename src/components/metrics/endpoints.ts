// Every metrics endpoint of the cluster, from the inventory alone: the exporters that are switched on and the
// built-in /metrics of etcd and Patroni. `pgha status --endpoints` lists them, the checks fetch them, and the
// Prometheus snippet scrapes them.
import { stringify } from 'yaml';
import type { Host, Inventory } from '../../inventory/types.js';
import { etcdTls } from '../etcd/tls.js';
import { etcdSettings } from '../etcd/settings.js';
import { patroniSettings } from '../patroni/settings.js';
import { metricsSettings } from './settings.js';
import { tlsEnabled } from '../tls/settings.js';

export type MetricsJob = 'node' | 'postgres' | 'haproxy' | 'etcd' | 'patroni' | 'prometheus';

export const JOBS: readonly MetricsJob[] = ['node', 'postgres', 'haproxy', 'etcd', 'patroni', 'prometheus'];

export interface MetricsEndpoint {
  job: MetricsJob;
  host: string;
  address: string;
  port: number;
  path: string;
  url: string;
  /** https: the endpoint answers over TLS only (Patroni with tls_enabled), verified with the cluster's CA. */
  scheme: 'http' | 'https';
}

/** Where a monitor keeps the cluster's CA certificate, to verify the endpoints served over HTTPS. */
export const MONITOR_CA = '/etc/prometheus/pgha-ca.crt';

/**
 * A line each endpoint must have when it works: the exporter reaches what it watches (pg_up 1, etcd has a
 * leader, Patroni's PostgreSQL runs), or for node and HAProxy one of their own metrics. Labels are optional.
 */
export const EXPECTED: Record<MetricsJob, { metric: string; value?: string }> = {
  node: { metric: 'node_uname_info' },
  postgres: { metric: 'pg_up', value: '1' },
  haproxy: { metric: 'haproxy_process_nbthread' },
  etcd: { metric: 'etcd_server_has_leader', value: '1' },
  patroni: { metric: 'patroni_postgres_running', value: '1' },
  prometheus: { metric: 'prometheus_build_info' },
};

/** The sample lines of `metric` in a Prometheus text exposition (comments skipped). */
export function samples(text: string, metric: string): { labels: string; value: string }[] {
  const out: { labels: string; value: string }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] === metric) out.push({ labels: m[2] ?? '', value: m[3]! });
  }
  return out;
}

/** Why a scraped body is not what `job` should answer, or undefined when it is. */
export function unexpected(job: MetricsJob, body: string): string | undefined {
  const e = EXPECTED[job];
  const got = samples(body, e.metric);
  if (got.length === 0) return `no ${e.metric} sample in ${body.length} bytes`;
  if (e.value !== undefined && !got.some((s) => Number(s.value) === Number(e.value)))
    return `${e.metric} is ${got.map((s) => s.value).join(',')}, want ${e.value}`;
  return undefined;
}

function endpoint(job: MetricsJob, h: Host, port: number, scheme: 'http' | 'https' = 'http'): MetricsEndpoint {
  const url = `${scheme}://${h.address}:${port}/metrics`;
  return { job, host: h.name, address: h.address, port, path: '/metrics', url, scheme };
}

/** The endpoints of one host, in job order. */
export function hostEndpoints(inv: Pick<Inventory, 'file' | 'cluster'>, h: Host): MetricsEndpoint[] {
  const s = metricsSettings(inv, h);
  const pg = h.roles.includes('postgres');
  const out: MetricsEndpoint[] = [];
  if (s.nodeExporter) out.push(endpoint('node', h, s.nodeExporterPort));
  if (s.postgresExporter && pg) out.push(endpoint('postgres', h, s.postgresExporterPort));
  if (s.haproxy && h.roles.includes('haproxy')) out.push(endpoint('haproxy', h, s.haproxyPort));
  // With TLS etcd's client port wants a client certificate: its /metrics is read on the plain metrics port instead.
  if (s.etcd && h.roles.includes('etcd')) {
    const e = etcdSettings(inv, h);
    out.push(endpoint('etcd', h, etcdTls(inv, h) ? e.etcdMetricsPort : e.etcdClientPort));
  }
  if (s.patroni && pg)
    out.push(endpoint('patroni', h, patroniSettings(inv, h).apiPort, tlsEnabled(inv, h) ? 'https' : 'http'));
  if (h.roles.includes('monitor')) out.push(endpoint('prometheus', h, s.prometheusPort));
  return out;
}

/** Every endpoint of the cluster (of `hosts`, by default all), by job then in inventory order. */
export function metricsEndpoints(
  inv: Pick<Inventory, 'file' | 'cluster' | 'hosts'>,
  hosts: Host[] = inv.hosts,
): MetricsEndpoint[] {
  const all = hosts.flatMap((h) => hostEndpoints(inv, h));
  return JOBS.flatMap((j) => all.filter((e) => e.job === j));
}

/** Prometheus scrape_configs: one job per source, one target per host with cluster and host labels. */
export function scrapeJobs(cluster: string, endpoints: MetricsEndpoint[]) {
  return JOBS.filter((j) => endpoints.some((e) => e.job === j)).map((j) => ({
    job_name: `${cluster}-${j}`,
    metrics_path: '/metrics',
    // Over HTTPS, the server's certificate is verified with the cluster's CA (the monitor keeps a copy).
    ...(endpoints.some((e) => e.job === j && e.scheme === 'https')
      ? { scheme: 'https', tls_config: { ca_file: MONITOR_CA } }
      : {}),
    static_configs: endpoints
      .filter((e) => e.job === j)
      .map((e) => ({ targets: [`${e.address}:${e.port}`], labels: { cluster, host: e.host } })),
  }));
}

/** The scrape_configs section as YAML, ready to paste into prometheus.yml. */
export function scrapeConfigs(cluster: string, endpoints: MetricsEndpoint[]): string {
  return stringify({ scrape_configs: scrapeJobs(cluster, endpoints) }, { lineWidth: 0 });
}
