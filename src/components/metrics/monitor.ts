// Role monitor: Debian's Prometheus on the host's own address, scraping every metrics endpoint of the cluster
// (the list of `pgha status --endpoints`). Checked through its own API: every target up.
import { stringify } from 'yaml';
import type { FileResource, Step, StepContext, Transport } from '../../engine/types.js';
import { CheckError } from '../../util/errors.js';
import { waitFor } from '../../engine/wait.js';
import { errText, httpGet, journal, obj, httpGetScript } from '../common.js';
import { MONITOR_CA, metricsEndpoints, scrapeJobs } from './endpoints.js';
import { readFileSync } from 'node:fs';
import { ensureCa } from '../tls/ca.js';
import { metricsSettings } from './settings.js';

export const PROMETHEUS_DEFAULT = '/etc/default/prometheus';
export const PROMETHEUS_CONFIG = '/etc/prometheus/prometheus.yml';

/** prometheus.yml: the cluster's endpoints (Prometheus itself among them). */
export function prometheusConfig(ctx: StepContext): string {
  const s = metricsSettings(ctx.inventory, ctx.host);
  const cluster = ctx.inventory.cluster;
  const doc = {
    global: { scrape_interval: s.scrapeInterval, evaluation_interval: s.scrapeInterval },
    scrape_configs: scrapeJobs(cluster, metricsEndpoints(ctx.inventory)),
  };
  return `# Managed by pgha: local changes are overwritten. Every metrics endpoint of cluster ${cluster}.\n${stringify(doc, { lineWidth: 0 })}`;
}

// Written before the install (dpkg keeps an existing conffile), so Prometheus starts on the host's address with the
// cluster's targets. promtool comes with the package: the first write is not checked by it, every later one is.
function files(ctx: StepContext): FileResource[] {
  const s = metricsSettings(ctx.inventory, ctx.host);
  const https = metricsEndpoints(ctx.inventory).some((e) => e.scheme === 'https');
  const ca = https ? ensureCa(ctx.inventory, !ctx.check) : undefined;
  return [
    // The cluster's CA, for the endpoints served over HTTPS.
    ...(https
      ? [
          {
            kind: 'file',
            path: MONITOR_CA,
            content: ca ? readFileSync(ca.cert, 'utf8') : '(the CA certificate pgha would make)\n',
            mode: '0644',
            notify: [{ service: 'prometheus', action: 'reload' }],
          } satisfies FileResource,
        ]
      : []),
    {
      kind: 'file',
      path: PROMETHEUS_DEFAULT,
      content: ctx.render('metrics/prometheus.default.hbs', { address: ctx.host.address, port: s.prometheusPort }),
      notify: [{ service: 'prometheus', action: 'restart' }],
    },
    {
      kind: 'file',
      path: PROMETHEUS_CONFIG,
      content: prometheusConfig(ctx),
      validate: `sh -c 'command -v promtool >/dev/null || exit 0; promtool check config "$1"' pgha-validate %s`,
      notify: [{ service: 'prometheus', action: 'reload' }],
    },
  ];
}

/** Targets Prometheus does not see up, from its /api/v1/targets answer ("" when every one is). */
export function targetsDown(body: string, want: number): string {
  let active: unknown[];
  try {
    const data = obj(obj(JSON.parse(body)).data);
    active = Array.isArray(data.activeTargets) ? data.activeTargets : [];
  } catch {
    return 'no JSON from /api/v1/targets';
  }
  const down = active.map(obj).filter((t) => t.health !== 'up');
  const bad = down.map((t) => `${String(obj(t.labels).job)} ${String(t.scrapeUrl)}: ${String(t.health)}`);
  if (active.length < want) bad.unshift(`${active.length} targets, want ${want}`);
  return bad.join('; ');
}

/** What verifyPrometheus reads. */
function targetsScript(ctx: StepContext): string {
  return httpGetScript(
    ctx.host.address,
    metricsSettings(ctx.inventory, ctx.host).prometheusPort,
    '/api/v1/targets?state=active',
  );
}

async function verifyPrometheus(ctx: StepContext, t: Transport, timeoutMs: number): Promise<void> {
  const s = metricsSettings(ctx.inventory, ctx.host);
  const want = metricsEndpoints(ctx.inventory).length;
  const res = await waitFor(
    async () => {
      const r = await httpGet(t, ctx.host.address, s.prometheusPort, '/api/v1/targets?state=active');
      if (r.status !== 200) return { ok: false, value: `answered ${r.status || 'nothing'}` };
      const bad = targetsDown(r.body, want);
      return { ok: bad === '', value: bad };
    },
    { timeoutMs, intervalMs: 2000, what: 'prometheus targets up' },
  );
  if (!res.ok)
    throw new CheckError(
      ctx.host.name,
      'prometheus scrapes every endpoint',
      `${want} targets up`,
      errText(res.value),
      await journal(t, 'prometheus'),
    );
}

export const monitorStep: Step = {
  id: 'metrics.prometheus',
  // Its check wants every endpoint of every host up.
  needs: ['etcd', 'patroni', 'haproxy.config', 'metrics.node_exporter', 'metrics.postgres_exporter'],
  title: 'Prometheus on the monitor hosts, scraping every endpoint',
  resources(ctx) {
    if (!ctx.host.roles.includes('monitor')) return [];
    return [
      // Made here (0755, as the package ships it): the prometheus user must read the config written before the install.
      { kind: 'directory', path: '/etc/prometheus', mode: '0755' },
      ...files(ctx),
      { kind: 'packages', names: ['prometheus'] },
      { kind: 'service', name: 'prometheus', enabled: true, state: 'started' },
    ];
  },
  verify: (ctx, t) => (ctx.host.roles.includes('monitor') ? verifyPrometheus(ctx, t, 90_000) : Promise.resolve()),
  reads: (ctx) => (ctx.host.roles.includes('monitor') ? [targetsScript(ctx)] : []),
};
