// HAProxy checks: each balancer's backends show exactly the expected Patroni members UP.
import { clusterReads } from '../patroni/reads.js';
import type { Host } from '../../inventory/types.js';
import type { StepContext, StepGroupContext, Transport } from '../../engine/types.js';
import { CheckError } from '../../util/errors.js';
import { waitFor } from '../../engine/wait.js';
import { haproxySettings } from './settings.js';
import { patroniSettings } from '../patroni/settings.js';
import { errText, httpGet, httpGetScript, journal, withRole } from '../common.js';
import { fetchCluster } from '../patroni/checks.js';
import { LEADER_ROLES, type PatroniCluster } from '../patroni/facts.js';
import { parseStatCsv, upServers } from './facts.js';
import { withPooledBackends } from '../pgbouncer/haproxy.js';

export const PROXIES = { primary: 'primary', replicas: 'replicas', all: 'all' } as const;

/**
 * What each listen section must show UP, from Patroni's view of the cluster; with `servers`, only those (the
 * inventory's postgres hosts: a member being removed, or dropped from the inventory, has no server line).
 */
export function expectedBackends(c: PatroniCluster, maxLag: number, servers?: string[]): Record<string, string[]> {
  const running = c.members.filter((m) => m.state === 'running' && (!servers || servers.includes(m.name)));
  return {
    [PROXIES.primary]: running
      .filter((m) => LEADER_ROLES.includes(m.role))
      .map((m) => m.name)
      .sort(),
    [PROXIES.replicas]: running
      .filter((m) => !LEADER_ROLES.includes(m.role) && typeof m.lag === 'number' && m.lag <= maxLag)
      .map((m) => m.name)
      .sort(),
    [PROXIES.all]: running.map((m) => m.name).sort(),
  };
}

/** UP servers per proxy as this balancer sees them (stats CSV fetched on the host itself). */
export async function backendsOn(ctx: StepGroupContext, h: Host, t: Transport): Promise<Record<string, string[]>> {
  const r = await httpGet(t, '127.0.0.1', haproxySettings(ctx.inventory, h).statsPort, '/;csv');
  if (r.status !== 200) throw new Error(`stats page answered ${r.status || 'nothing'}`);
  return upServers(parseStatCsv(r.body));
}

export function diffBackends(want: Record<string, string[]>, got: Record<string, string[]>): string {
  const bad: string[] = [];
  for (const [px, names] of Object.entries(want)) {
    const have = got[px] ?? [];
    if (JSON.stringify(have) !== JSON.stringify(names))
      bad.push(`${px}: UP [${have.join(' ')}], want [${names.join(' ')}]`);
  }
  return bad.join('; ');
}

/** This balancer's HAProxy runs and its stats page answers (after a reload, before the next balancer's). */
export async function verifyLocalHaproxy(ctx: StepContext, t: Transport, timeoutMs: number): Promise<void> {
  const port = haproxySettings(ctx.inventory, ctx.host).statsPort;
  const res = await waitFor(
    async () => {
      const r = await httpGet(t, '127.0.0.1', port, '/;csv').catch((e: Error) => ({ status: 0, body: e.message }));
      return {
        ok: r.status === 200,
        value: r.status ? `stats page answered ${r.status}` : 'stats page does not answer',
      };
    },
    { timeoutMs, intervalMs: 500, what: 'haproxy answers' },
  );
  if (!res.ok)
    throw new CheckError(
      ctx.host.name,
      'haproxy running',
      `stats page on 127.0.0.1:${port} answers 200`,
      errText(res.value),
      await journal(t, 'haproxy'),
    );
}

/** The stats page read of a balancer (verifyLocalHaproxy, backendsOn). */
export function statsScript(ctx: Pick<StepGroupContext, 'inventory'>, h: Host): string {
  return httpGetScript('127.0.0.1', haproxySettings(ctx.inventory, h).statsPort, '/;csv');
}

/** What verifyHaproxy reads: Patroni's /cluster, each balancer's stats page. */
export function haproxyReads(ctx: Pick<StepGroupContext, 'inventory' | 'hosts'>) {
  return [
    ...clusterReads(ctx),
    ...withRole(ctx.hosts, 'haproxy').map((h) => ({ host: h.name, script: statsScript(ctx, h) })),
  ];
}

export async function verifyHaproxy(ctx: StepGroupContext, timeoutMs: number): Promise<void> {
  for (const h of withRole(ctx.hosts, 'haproxy')) {
    const t = ctx.transports.get(h.name);
    if (!t) throw new CheckError(h.name, 'haproxy backends', 'connected host', 'not connected');
    const maxLag = patroniSettings(ctx.inventory, h).replicaMaxLag;
    let want: Record<string, string[]> = {};
    const res = await waitFor(
      async () => {
        const c = await fetchCluster(ctx);
        if (!c) return { ok: false, value: 'no Patroni member answers GET /cluster' };
        const servers = withRole(ctx.inventory.hosts, 'postgres').map((x) => x.name);
        want = withPooledBackends(ctx.inventory, h, expectedBackends(c.cluster, maxLag, servers));
        if (want[PROXIES.primary]!.length !== 1)
          return { ok: false, value: `Patroni has ${want[PROXIES.primary]!.length} running leaders` };
        const diff = diffBackends(want, await backendsOn(ctx, h, t));
        return { ok: diff === '', value: diff };
      },
      { timeoutMs, intervalMs: 1000, what: 'haproxy backends' },
    );
    if (!res.ok) {
      throw new CheckError(
        h.name,
        'haproxy backends show the expected members UP',
        Object.entries(want)
          .map(([k, v]) => `${k}: [${v.join(' ')}]`)
          .join('; ') || 'one primary, the replicas, all members',
        errText(res.value),
        await journal(t, 'haproxy'),
      );
    }
  }
}
