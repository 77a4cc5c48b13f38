// Metrics checks: every endpoint of a host answers on the host's own address with the metrics its job should
// have (pg_up 1, etcd_server_has_leader 1, ...), fetched from the host itself, all in one round trip.
import type { StepContext, Transport } from '../../engine/types.js';
import { CheckError } from '../../util/errors.js';
import { waitFor } from '../../engine/wait.js';
import { errText, httpGetScript, journal, parseHttpResponse } from '../common.js';
import { apiGetScript, PATRONI_TLS_DIR } from '../patroni/api.js';
import { tlsPaths } from '../tls/files.js';
import { hostEndpoints, unexpected, type MetricsEndpoint, type MetricsJob } from './endpoints.js';

/** The unit whose log explains a failing endpoint. */
const UNIT: Record<MetricsJob, string> = {
  node: 'prometheus-node-exporter',
  postgres: 'prometheus-postgres-exporter',
  haproxy: 'haproxy',
  etcd: 'etcd',
  patroni: 'patroni',
  prometheus: 'prometheus',
};

const SPLIT = '---pgha-metrics-split---';

/** The one script that fetches every endpoint of the list (read-only). */
export function endpointsScript(list: MetricsEndpoint[]): string {
  const get = (e: MetricsEndpoint) =>
    e.scheme === 'https'
      ? apiGetScript({ address: e.address, port: e.port, tls: tlsPaths(PATRONI_TLS_DIR) }, e.path)
      : httpGetScript(e.address, e.port, e.path);
  return list.map((e) => `${get(e)}; echo; echo ${SPLIT}`).join('\n');
}

/** What verifyEndpoints reads on this host. */
export function endpointReads(ctx: StepContext): string[] {
  const list = hostEndpoints(ctx.inventory, ctx.host);
  return list.length ? [endpointsScript(list)] : [];
}

/** What is wrong with each endpoint now (undefined: it answers as expected), from one remote script. */
export async function probeEndpoints(t: Transport, list: MetricsEndpoint[]): Promise<(string | undefined)[]> {
  if (list.length === 0) return [];
  const r = await t.exec(endpointsScript(list), { timeoutMs: 30_000 });
  const parts = r.stdout.split(`\n${SPLIT}\n`);
  return list.map((e, i) => {
    const raw = parts[i] ?? '';
    const res = parseHttpResponse(raw);
    if (res.status !== 200) return res.status ? `answered ${res.status}` : 'does not answer';
    return unexpected(e.job, res.body);
  });
}

/** Each endpoint of this host answers as expected, within `timeoutMs` (an exporter just started may need a moment). */
export async function verifyEndpoints(ctx: StepContext, t: Transport, timeoutMs: number): Promise<void> {
  const list = hostEndpoints(ctx.inventory, ctx.host);
  let failing: { e: MetricsEndpoint; why: string }[] = [];
  const res = await waitFor(
    async () => {
      const got = await probeEndpoints(t, list);
      failing = list.flatMap((e, i) => (got[i] === undefined ? [] : [{ e, why: got[i]! }]));
      return { ok: failing.length === 0, value: failing.map((f) => `${f.e.url}: ${f.why}`).join('; ') };
    },
    { timeoutMs, intervalMs: 1000, what: 'metrics endpoints' },
  );
  if (res.ok) return;
  const first = failing[0]?.e;
  throw new CheckError(
    ctx.host.name,
    `metrics endpoints answer (${failing.map((f) => f.e.job).join(', ') || 'all'})`,
    'HTTP 200 with the expected metrics on each',
    errText(res.value),
    first ? await journal(t, UNIT[first.job]) : '',
  );
}
