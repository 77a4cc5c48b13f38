// Rolling restart of the members whose PostgreSQL settings need one, one member at a time. Which members, in which
// order and why is decided once per run from one probe per member (restart-plan.ts): a replica restarts in place;
// a leader is switched over to a healthy replica first and restarted as a replica if still pending (no write outage),
// or restarted in place (patroni_restart_in_place, `pgha restart --in-place`, or a lowered max_connections-like
// setting, which PostgreSQL wants on the primary first). Plan shows the same decision.
import { memberRunningReads } from './reads.js';
import type { Host } from '../../inventory/types.js';
import type { Step, StepContext, StepGroupContext, Transport } from '../../engine/types.js';
import { sleep } from '../../engine/wait.js';
import { memberParameters, patroniSettings } from './settings.js';
import { secret } from '../secrets.js';
import { python3, renderProgram, withRole } from '../common.js';
import { verifyMemberRunning } from './checks.js';
import { apiClientLines, patroniApi, type PatroniApi } from './api.js';
import { restartProbeFact, type RestartProbe } from './facts.js';
import {
  decideRestarts,
  describeAction,
  paramChanges,
  restartReasons,
  type ParamChange,
  type RestartAction,
  type RestartMember,
} from './restart-plan.js';

/** Exit 0 when this member has no pending restart (GET /patroni on the member itself). */
export function noPendingRestartScript(api: PatroniApi): string {
  return python3(renderProgram('patroni/pending-restart.py.hbs', { api_client: apiClientLines(api) }));
}

/** The Python lines that read the REST API's Basic auth from stdin into `auth` (shared by the programs that write). */
export function restAuthLines(): string {
  return renderProgram('patroni/rest-auth.py.hbs');
}

/** What a command running those programs takes: the REST API credentials as JSON on stdin, masked in its output. */
export function restAuthInput(ctx: Pick<StepContext, 'inventory' | 'host' | 'secrets'>): {
  stdin: string;
  secrets: string[];
} {
  const password = secret(ctx as StepContext, 'patroni_api_password');
  return {
    stdin: JSON.stringify({ user: patroniSettings(ctx.inventory, ctx.host).apiUser, password }),
    secrets: [password],
  };
}

export interface RestartTimes {
  /** How long the member may take to run again (default 120 s). */
  timeoutSec?: number;
  /** Pause after the primary runs again, for the replicas to replay its new settings (default 10 s). */
  settleSec?: number;
  /** Between two looks at the member (default 1 s). */
  pollSec?: number;
}

/** POST /restart with the REST API credentials from stdin, then wait (bounded) until the member runs again. */
export function restartScript(
  api: PatroniApi,
  { timeoutSec = 120, settleSec = 10, pollSec = 1 }: RestartTimes = {},
): string {
  const vars = {
    rest_auth: restAuthLines(),
    api_client: apiClientLines(api),
    timeout_sec: timeoutSec,
    settle_sec: settleSec,
    poll_sec: pollSec,
  };
  return python3(renderProgram('patroni/restart.py.hbs', vars));
}

export interface SwitchoverCall {
  action: 'switchover' | 'failover';
  /** The current leader (switchover); none for a failover without a leader. */
  leader?: string;
  candidate: string;
  /** Restart the old leader afterwards (it must be the member the script runs on): if still pending, always, never. */
  restart?: 'pending' | 'always' | 'never';
  /** Take the synchronous standby of the moment when it is not the candidate (the rolling restart's choice). */
  followSync?: boolean;
  /**
   * In synchronous mode Patroni hands over only to a synchronous standby: when the named candidate is not one,
   * raise synchronous_node_count until it is, hand over, and set the count back (an explicit `--to`).
   */
  widenSync?: boolean;
  timeoutSec?: number;
  pollSec?: number;
}

/**
 * POST /switchover (or /failover) through the REST API on this member, wait until the candidate leads and the old
 * leader runs as a replica, then restart the old leader as asked. Credentials from stdin.
 */
export function switchoverScript(api: PatroniApi, c: SwitchoverCall): string {
  const vars = {
    rest_auth: restAuthLines(),
    api_client: apiClientLines(api),
    action: c.action,
    leader: c.leader ?? '',
    candidate: c.candidate,
    restart: c.restart ?? 'never',
    follow_sync: c.followSync ?? false,
    widen_sync: c.widenSync ?? false,
    timeout_sec: c.timeoutSec ?? 120,
    poll_sec: c.pollSec ?? 1,
  };
  return python3(renderProgram('patroni/switchover.py.hbs', vars));
}

function restartProbe(ctx: Pick<StepGroupContext, 'inventory'>, h: Host) {
  const s = patroniSettings(ctx.inventory, h);
  return restartProbeFact(patroniApi(ctx.inventory, h), s.pgPort, Object.keys(memberParameters(ctx.inventory, h)));
}

/** The script of a member's restart probe (read-only). */
export function restartProbeScript(ctx: Pick<StepGroupContext, 'inventory'>, h: Host): string {
  return restartProbe(ctx, h).script;
}

/** One probe per member (in parallel): GET /patroni, GET /cluster and pg_settings, or undefined when unreachable. */
export async function probeMembers(ctx: StepGroupContext, hosts: Host[]): Promise<Map<string, RestartProbe>> {
  const out = new Map<string, RestartProbe>();
  await Promise.all(
    hosts.map(async (h) => {
      const t: Transport | undefined = ctx.transports.get(h.name);
      if (!t) return;
      const fact = restartProbe(ctx, h);
      const r = await t.exec(fact.script, { timeoutMs: 60_000 }).catch(() => undefined);
      if (r?.code === 0) out.set(h.name, fact.parse(r.stdout));
    }),
  );
  return out;
}

export interface RestartRequest {
  /** Restart every member of the step (`pgha restart`): the reason given. Otherwise only those that need it. */
  force?: string;
  /** Leader in place (no switchover); default: the inventory's patroni_restart_in_place. */
  inPlace?: boolean;
}

export interface RestartDecision {
  actions: RestartAction[];
  /** Changed parameters that a reload applies (no restart), per member. */
  reloadOnly: Map<string, ParamChange[]>;
  /** Members that could not be read. */
  unread: string[];
}

/** The decision for the step's hosts, from one probe per member. */
export async function decideForHosts(ctx: StepGroupContext, req: RestartRequest = {}): Promise<RestartDecision> {
  const hosts = withRole(ctx.hosts, 'postgres');
  const all = withRole(ctx.inventory.hosts, 'postgres');
  const probes = await probeMembers(ctx, hosts);
  const cluster = [...probes.values()].find((p) => p.cluster)?.cluster;
  const first = patroniSettings(ctx.inventory, all[0] ?? hosts[0]!);
  const members: RestartMember[] = all.map((h) => {
    const m = cluster?.members.find((x) => x.name === h.name);
    const p = probes.get(h.name);
    return {
      name: h.name,
      role: m?.role ?? '',
      state: m?.state ?? '',
      lag: m?.lag,
      nofailover: m?.nofailover ?? false,
      pending: m?.pendingRestart ?? p?.patroni?.pendingRestart ?? false,
      settings: p?.settings,
    };
  });
  const reasons = new Map<string, string[]>();
  const reloadOnly = new Map<string, ParamChange[]>();
  const lowered = new Set<string>();
  for (const m of members) {
    const h = hosts.find((x) => x.name === m.name);
    if (!h) continue;
    const changes = paramChanges(memberParameters(ctx.inventory, h), m.settings ?? []);
    reasons.set(m.name, restartReasons(m, changes, req.force));
    const reload = changes.filter((c) => !c.restart);
    if (reload.length) reloadOnly.set(m.name, reload);
    for (const c of changes) if (c.restart && c.lowered) lowered.add(c.name);
  }
  const actions = decideRestarts({
    members,
    reasons,
    lowered: [...lowered],
    inPlace: req.inPlace ?? first.restartInPlace,
    maxLag: first.maxLagOnFailover,
  });
  return { actions, reloadOnly, unread: hosts.filter((h) => !probes.has(h.name)).map((h) => h.name) };
}

/** The decision as the lines plan and apply print. */
export function decisionLines(d: RestartDecision, check: boolean): string[] {
  const lines: string[] = [];
  const verb = check ? 'would restart' : 'restarts';
  if (d.actions.length) {
    lines.push(`${verb} ${d.actions.length} member${d.actions.length > 1 ? 's' : ''}, in this order:`);
    d.actions.forEach((a, i) => lines.push(`  ${describeAction(a, i)}`));
  } else lines.push('no member needs a restart');
  for (const [host, cs] of d.reloadOnly)
    lines.push(
      `${host}: reload only, no restart: ${cs.map((c) => `${c.name} ${c.current} -> ${c.desired} (context ${c.context})`).join(', ')}`,
    );
  if (d.unread.length) lines.push(`not read (REST API or PostgreSQL did not answer): ${d.unread.join(', ')}`);
  return lines;
}

/** The command resource that carries out one action on its member. */
export function actionResource(ctx: StepContext, a: RestartAction, always = false) {
  const why = `${a.note}; because ${a.reasons.join(', ')}`;
  if (a.kind === 'switchover')
    return {
      kind: 'command' as const,
      label: `switchover to ${a.candidate}, then restart as a replica if still pending (${why})`,
      script: switchoverScript(patroniApi(ctx.inventory, ctx.host), {
        action: 'switchover',
        leader: a.host,
        candidate: a.candidate!,
        restart: always ? 'always' : 'pending',
        followSync: true,
        timeoutSec: 150,
      }),
      ...restAuthInput(ctx),
      timeoutMs: 240_000,
    };
  return {
    kind: 'command' as const,
    label: `restart PostgreSQL through Patroni (${why})`,
    script: restartScript(patroniApi(ctx.inventory, ctx.host)),
    ...restAuthInput(ctx),
    timeoutMs: 180_000,
  };
}

/** The rolling restart step; `req` for `pgha restart` (every member, or the leader in place). */
export function makeRestartStep(req: RestartRequest = {}): Step {
  let decided = new Map<string, RestartAction>();
  return {
    id: 'patroni.restart',
    title: 'Restart members that need it (one at a time; a leader after a switchover)',
    serial: true,
    async order(ctx) {
      const d = await decideForHosts(ctx, req);
      decisionLines(d, ctx.check).forEach((l) => ctx.log(l));
      decided = new Map(d.actions.map((a) => [a.host, a]));
      return d.actions.map((a) => ctx.hosts.find((h) => h.name === a.host)!).filter(Boolean);
    },
    async before(ctx) {
      // A parameter change made earlier in this run reaches each member on its next HA loop: give it that long.
      if (
        ctx.check ||
        (ctx.changedInRun('patroni.dcs').length === 0 && ctx.changedInRun('patroni.config').length === 0)
      )
        return;
      const loopWait = Math.max(
        ...withRole(ctx.hosts, 'postgres').map((h) => patroniSettings(ctx.inventory, h).loopWait),
      );
      await sleep((2 * loopWait + 1) * 1000);
    },
    resources(ctx) {
      const a = decided.get(ctx.host.name);
      return a ? [actionResource(ctx, a)] : [];
    },
    verify: (ctx, t) => verifyMemberRunning(ctx, t, 120_000),
    reads: memberRunningReads,
    groupReads: (g) => withRole(g.hosts, 'postgres').map((h) => ({ host: h.name, script: restartProbeScript(g, h) })),
  };
}

export const restartStep: Step = makeRestartStep();
