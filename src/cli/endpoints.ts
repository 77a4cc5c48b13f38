// `pgha status --endpoints`: every metrics endpoint of the cluster (job, host, URL) from the inventory alone, as
// a table, in the JSON document, or as a Prometheus scrape_configs section ready to paste.
import { catalog } from '../components/index.js';
import { loadInventory, resolveLimit } from '../inventory/load.js';
import { skipRemoved } from '../inventory/removed.js';
import { MONITOR_CA, metricsEndpoints, scrapeConfigs, type MetricsEndpoint } from '../components/metrics/endpoints.js';
import { ensureCa } from '../components/tls/ca.js';
import { UserError } from '../util/errors.js';
import type { GlobalOptions } from './session.js';
import type { Out } from './output.js';
import { table } from './status.js';

export const ENDPOINT_FORMATS = ['table', 'prometheus'] as const;
export type EndpointFormat = (typeof ENDPOINT_FORMATS)[number];

export function formatEndpoints(list: MetricsEndpoint[]): string {
  if (list.length === 0) return 'no metrics endpoints (set metrics_* variables in the inventory)';
  return table(
    ['Job', 'Host', 'URL'],
    list.map((e) => [e.job, e.host, e.url]),
  );
}

/** The endpoints of the inventory's hosts (those of --limit), printed in `format`; contacts nothing. */
export async function endpoints(g: GlobalOptions, out: Out, format: EndpointFormat = 'table') {
  const inv = skipRemoved(await loadInventory(g.inventory, catalog));
  const hosts = g.limit ? resolveLimit(inv, g.limit) : inv.hosts;
  const list = metricsEndpoints(inv, hosts);
  const ca = list.some((e) => e.scheme === 'https') ? ensureCa(inv, false) : undefined;
  const prometheus =
    (ca ? `# HTTPS endpoints: put the cluster's CA (${ca.cert}) at ${MONITOR_CA} on the Prometheus host\n` : '') +
    scrapeConfigs(inv.cluster, list);
  if (!g.json) out.info(format === 'prometheus' ? prometheus.trimEnd() : formatEndpoints(list));
  return { ok: true, cluster: inv.cluster, endpoints: list, prometheus };
}

/** --format without --endpoints, or an unknown format: refused before anything is read. */
export function checkEndpointOptions(o: { endpoints?: boolean; format?: string }): EndpointFormat | undefined {
  if (o.format !== undefined && !o.endpoints)
    throw new UserError('--format applies to --endpoints only', 'pgha status --endpoints --format prometheus');
  if (!o.endpoints) return undefined;
  const f = o.format ?? 'table';
  if (!(ENDPOINT_FORMATS as readonly string[]).includes(f))
    throw new UserError(`unknown --format ${f}`, `use one of ${ENDPOINT_FORMATS.join(', ')}`);
  return f as EndpointFormat;
}
