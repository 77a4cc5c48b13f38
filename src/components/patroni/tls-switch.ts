// TLS switched on (or off) on a running cluster, one member at a time. The REST API serves one scheme only, and
// HAProxy's checks of a member must speak the one it serves, or the member is marked down. So: first every
// balancer is told to tolerate failed checks of the members about to switch (a long `fall` on their lines,
// reloaded); then, replicas first and the leader last, each member gets its certificate and new config.yml
// (Patroni reloads it: REST API, ssl, pg_hba), pgha waits until its REST API answers in the new scheme, and every
// balancer is reloaded with that member checked in the new scheme and its normal `fall`. After the last member the
// balancers hold the inventory's configuration, so haproxy.config finds nothing to change. A fresh member (no
// config.yml yet) is left to patroni.config.
import { clusterReads, memberRunningReads } from './reads.js';
import type { Host } from '../../inventory/types.js';
import type { FileResource, Step, StepContext, StepGroupContext, Transport } from '../../engine/types.js';
import { renderTemplate } from '../../engine/template.js';
import { waitFor } from '../../engine/wait.js';
import { CheckError, RemoteError, UserError } from '../../util/errors.js';
import { shq } from '../../engine/quote.js';
import { withRole } from '../common.js';
import { tlsFiles, tlsPaths } from '../tls/files.js';
import { tlsEnabled } from '../tls/settings.js';
import {
  haproxyCaFile,
  haproxyConfigFile,
  haproxyStateFiles,
  HAPROXY_CONFIG,
  HAPROXY_VALIDATE,
  type CheckOverride,
} from '../haproxy/steps.js';
import { PATRONI_TLS_DIR, patroniApi, apiGet } from './api.js';
import { fetchCluster, verifyMemberRunning } from './checks.js';
import { ensureHostCert } from '../tls/ca.js';
import { patroniConfigFile, PATRONI_CONFIG } from './steps.js';

export type Scheme = 'http' | 'https';

/** What a member's config.yml says its REST API serves now: https, http, or none (no config.yml yet). */
export const SCHEME_SCRIPT = `f=${PATRONI_CONFIG}; if [ ! -f "$f" ]; then echo none; elif grep -q '^  certfile:' "$f"; then echo https; else echo http; fi`;

export function parseScheme(stdout: string): Scheme | 'none' | undefined {
  const s = stdout.trim();
  return s === 'https' || s === 'http' || s === 'none' ? s : undefined;
}

export interface SwitchPlan {
  want: Scheme;
  /** Members to switch, in order: replicas first, the leader last. */
  members: string[];
  /** Members that keep their scheme but get a new certificate (renewed, or issued again), in the same order. */
  renew: string[];
  /** Each member's scheme now (those with a config.yml). */
  now: Map<string, Scheme>;
}

/** The members whose REST API serves another scheme than the inventory wants, replicas first, the leader last. */
export function planSwitch(
  want: Scheme,
  now: Map<string, Scheme | 'none' | undefined>,
  order: string[],
  leader?: string,
  stale: Set<string> = new Set(),
): SwitchPlan {
  const have = new Map([...now].filter((e): e is [string, Scheme] => e[1] === 'http' || e[1] === 'https'));
  const last = (a: string, b: string) => Number(a === leader) - Number(b === leader);
  const members = order.filter((m) => have.has(m) && have.get(m) !== want).sort(last);
  const renew = order.filter((m) => have.get(m) === want && want === 'https' && stale.has(m)).sort(last);
  return { want, members, renew, now: have };
}

/** The member's copies of the CA and its certificate, to compare with those the inventory's CA issues. */
const DEPLOYED_SCRIPT = `cat ${tlsPaths(PATRONI_TLS_DIR).cert} ${tlsPaths(PATRONI_TLS_DIR).ca} 2>/dev/null; true`;

/** The balancers' HAProxy config while `done` members have switched and `pending` ones are about to. */
export function overrideFor(p: SwitchPlan, done: Set<string>, pending: Set<string>): CheckOverride {
  return {
    https: (m) => (done.has(m) ? p.want : (p.now.get(m) ?? p.want)) === 'https',
    tolerant: pending,
  };
}

/** A balancer's step context, to render its files as haproxy.config does. */
function balancerContext(g: StepGroupContext, b: Host): StepContext {
  return {
    host: b,
    inventory: g.inventory,
    hosts: g.inventory.hosts,
    secrets: g.secrets,
    render: (name, vars) => renderTemplate(name, vars),
    check: g.check,
    log: g.log,
  };
}

/** Writes the balancer's CA (with TLS) and config (validated first), then reloads HAProxy. */
async function pushBalancer(g: StepGroupContext, b: Host, t: Transport, o: CheckOverride): Promise<void> {
  const ctx = balancerContext(g, b);
  // The server-state script and its drop-in first: the reload below keeps each server's health.
  const files: FileResource[] = [...haproxyStateFiles(ctx), ...haproxyCaFile(ctx), haproxyConfigFile(ctx, o)];
  for (const f of files) {
    const check = f.path === HAPROXY_CONFIG ? `{ ${HAPROXY_VALIDATE.split('%s').join('"$tmp"')}; } >&2 && ` : '';
    const script = `set -e; tmp=${shq(`${f.path}.pgha-new`)}; cat > "$tmp"; chmod ${f.mode ?? '0644'} "$tmp"; ${check}mv "$tmp" ${shq(f.path)}`;
    const r = await t.exec(script, { stdin: f.content, timeoutMs: 30_000 });
    if (r.code !== 0) throw new RemoteError(b.name, `writing ${f.path} failed`, r.stderr.trim());
  }
  const r = await t.exec('systemctl daemon-reload && systemctl reload haproxy', { timeoutMs: 30_000 });
  if (r.code !== 0) throw new RemoteError(b.name, 'reloading HAProxy failed', r.stderr.trim());
}

/** Every running balancer of the run, with its transport. */
async function balancers(g: StepGroupContext): Promise<[Host, Transport][]> {
  const out: [Host, Transport][] = [];
  for (const b of withRole(g.inventory.hosts, 'haproxy')) {
    const t = g.transports.get(b.name);
    if (!t) continue;
    const r = await t.exec('test -f /etc/haproxy/haproxy.cfg && systemctl is-active --quiet haproxy', {
      timeoutMs: 15_000,
    });
    if (r.code === 0) out.push([b, t]);
  }
  return out;
}

export function makeTlsSwitchStep(): Step {
  let plan: SwitchPlan | undefined;
  let group: StepGroupContext | undefined;
  const done = new Set<string>();
  return {
    id: 'patroni.tls',
    title: "Switch a running member's REST API and PostgreSQL to TLS or off it (one member at a time; HAProxy follows)",
    serial: true,
    needs: ['etcd'], // a running member's switch goes through the DCS
    async before(g) {
      group = g;
      done.clear();
      plan = undefined;
      const members = withRole(g.hosts, 'postgres');
      if (members.length === 0) return;
      const want: Scheme = tlsEnabled(g.inventory, members[0]!) ? 'https' : 'http';
      const now = new Map<string, Scheme | 'none' | undefined>();
      for (const h of members) {
        const t = g.transports.get(h.name);
        if (t) now.set(h.name, parseScheme((await t.exec(SCHEME_SCRIPT, { timeoutMs: 15_000 })).stdout));
      }
      const leader = (await fetchCluster(g).catch(() => undefined))?.cluster.members.find(
        (m) => m.role === 'leader',
      )?.name;
      // A member with TLS whose certificate is issued again (it expires within RENEW_DAYS, the CA or its address
      // changed): its new files are taken up with a Patroni reload, one member at a time, each running before the next.
      const stale = new Set<string>();
      if (want === 'https')
        for (const h of members) {
          const t = g.transports.get(h.name);
          if (!t || now.get(h.name) !== 'https') continue;
          const got = ensureHostCert(g.inventory, h, !g.check);
          const deployed = (await t.exec(DEPLOYED_SCRIPT, { timeoutMs: 15_000 })).stdout;
          if (!got || !deployed.includes(got.cert.trim()) || !deployed.includes(got.ca.trim())) stale.add(h.name);
        }
      plan = planSwitch(
        want,
        now,
        members.map((h) => h.name),
        leader,
        stale,
      );
      if (plan.renew.length)
        g.log(
          `new certificates for ${plan.renew.join(', ')}: each member reloads them, one at a time (replicas first, the leader last)`,
        );
      if (plan.members.length === 0) return;
      const lbs = withRole(g.inventory.hosts, 'haproxy').map((b) => b.name);
      g.log(
        `the REST API of ${plan.members.join(', ')} moves to ${want.toUpperCase()} one member at a time (replicas first, ` +
          `the leader last), in place; HAProxy's checks of each member follow it${lbs.length ? ` on ${lbs.join(', ')}` : ''}`,
      );
      // Every balancer must follow, or a switched member is marked down where it does not (--limit).
      const missing = lbs.filter((b) => !g.transports.has(b));
      if (missing.length)
        throw new UserError(
          `the REST API of ${plan.members.join(', ')} would move to ${want.toUpperCase()}, but pgha cannot reach ${missing.join(', ')} to change its checks with it`,
          'run pgha up without --limit, with every balancer up',
        );
      if (g.check) return;
      for (const [b, t] of await balancers(g))
        await pushBalancer(g, b, t, overrideFor(plan, done, new Set(plan.members)));
    },
    groupReads: (g) => {
      const members = withRole(g.hosts, 'postgres');
      return [
        ...members.flatMap((h) => [SCHEME_SCRIPT, DEPLOYED_SCRIPT].map((script) => ({ host: h.name, script }))),
        ...clusterReads(g),
      ];
    },
    reads: memberRunningReads,
    async order(g) {
      const names = [...(plan?.renew ?? []), ...(plan?.members ?? [])];
      return names.map((n) => g.hosts.find((h) => h.name === n)!).filter(Boolean);
    },
    resources(ctx) {
      if (!plan?.members.includes(ctx.host.name) && !plan?.renew.includes(ctx.host.name)) return [];
      // The files patroni.config writes too: it then finds nothing to change.
      const files = tlsEnabled(ctx.inventory, ctx.host)
        ? tlsFiles(ctx, { dir: PATRONI_TLS_DIR, owner: 'postgres', notify: [{ service: 'patroni', action: 'reload' }] })
        : [];
      return [...files, patroniConfigFile(ctx)];
    },
    async verify(ctx, t) {
      if (!plan || !group || ctx.check) return;
      if (plan.renew.includes(ctx.host.name)) return verifyMemberRunning(ctx, t, 120_000);
      if (!plan.members.includes(ctx.host.name)) return;
      const api = patroniApi(ctx.inventory, ctx.host);
      const res = await waitFor(
        async () => {
          // Only the wanted scheme: the client's fallback is turned off by giving it that one base alone.
          const r = await apiGet(t, { ...api, strict: true }, '/patroni').catch((e: Error) => ({
            status: 0,
            body: e.message,
          }));
          return { ok: r.status === 200, value: r.status ? `answered ${r.status}` : r.body };
        },
        { timeoutMs: 60_000, intervalMs: 200, what: `${ctx.host.name} REST API over ${plan.want}` },
      );
      if (!res.ok)
        throw new CheckError(
          ctx.host.name,
          `REST API over ${plan.want}`,
          'HTTP 200 on GET /patroni',
          String(res.value),
        );
      done.add(ctx.host.name);
      const pending = new Set(plan.members.filter((m) => !done.has(m)));
      for (const [b, bt] of await balancers(group)) await pushBalancer(group, b, bt, overrideFor(plan, done, pending));
    },
  };
}
