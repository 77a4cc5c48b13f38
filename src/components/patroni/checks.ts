// Patroni checks: each member running, then the cluster: one leader, streaming replicas, one timeline.
import type { StepContext, StepGroupContext, Transport } from '../../engine/types.js';
import { CheckError } from '../../util/errors.js';
import { now, waitFor } from '../../engine/wait.js';
import { shq } from '../../engine/quote.js';
import { patroniSettings } from './settings.js';
import { errText, journal, journalCmd, withRole } from '../common.js';
import { judgeCluster, parseCluster, parsePatroniStatus, type ClusterVerdict, type PatroniCluster } from './facts.js';
import { patroniGet } from './api.js';

/** psql as the postgres OS user over the local socket (peer auth), tuples only. */
export function localPsql(port: number, sql: string): string {
  return `runuser -u postgres -- psql -X -At -h /var/run/postgresql -p ${port} -d postgres -c ${shq(sql)}`;
}

/** Patroni's journal tail, plus PostgreSQL's last FATAL/HINT lines when Patroni's chatter pushed them out. */
async function memberLog(t: Transport): Promise<string> {
  const logs = await journal(t, 'patroni');
  const r = await t
    .exec(`${journalCmd('patroni', { lines: 500 })} 2>/dev/null | grep -E 'FATAL|HINT|already in use' | tail -n 4`, {
      timeoutMs: 15_000,
    })
    .catch(() => undefined);
  const errs = r?.stdout.trim() ?? '';
  if (!errs || errs.split('\n').every((l) => logs.includes(l))) return logs;
  return `${logs}\n--- last PostgreSQL errors in that log:\n${errs}`;
}

/** How long a member may stay in Patroni's `start failed` before the check reports it. */
export const START_FAILED_PATIENCE_MS = 40_000;

export async function verifyMemberRunning(ctx: StepContext, t: Transport, timeoutMs: number): Promise<void> {
  // Patroni retries a failed start on its own for a while; a start that keeps failing is reported sooner.
  let failedSince = 0;
  const res = await waitFor(
    async () => {
      const r = await patroniGet(t, ctx.inventory, ctx.host, '/patroni');
      if (r.status === 0) return { ok: false, value: 'REST API does not answer' };
      const st = parsePatroniStatus(r.body);
      failedSince = st.state === 'start failed' ? failedSince || now() : 0;
      return { ok: st.state === 'running', value: `state ${st.state || '?'}, role ${st.role || '?'}` };
    },
    {
      timeoutMs,
      intervalMs: 2000,
      what: 'patroni member running',
      stop: () => failedSince > 0 && now() - failedSince > START_FAILED_PATIENCE_MS,
    },
  );
  if (!res.ok) {
    throw new CheckError(
      ctx.host.name,
      'patroni member running',
      'state running (GET /patroni)',
      errText(res.value),
      await memberLog(t),
      'see the log; a first start initializes or clones the database, which can take a while on slow disks',
    );
  }
}

/** GET /cluster from the first postgres host that answers. */
export async function fetchCluster(
  ctx: StepGroupContext,
): Promise<{ cluster: PatroniCluster; from: string } | undefined> {
  for (const h of withRole(ctx.inventory.hosts, 'postgres')) {
    const t = ctx.transports.get(h.name);
    if (!t) continue;
    try {
      const r = await patroniGet(t, ctx.inventory, h, '/cluster');
      if (r.status === 200) return { cluster: parseCluster(r.body), from: h.name };
    } catch {
      /* try the next member */
    }
  }
  return undefined;
}

/** The leader's streaming replicas (count, names), as the cluster check reads them. */
export function streamingScript(port: number): string {
  return localPsql(
    port,
    "select count(*), string_agg(application_name, ' ') from pg_stat_replication where state = 'streaming'",
  );
}

/** A replica's WAL receiver status, as the cluster check reads it. */
export function walReceiverScript(port: number): string {
  return localPsql(port, 'select status from pg_stat_wal_receiver');
}

interface StreamVerdict extends ClusterVerdict {
  host?: string;
}

async function streaming(ctx: StepGroupContext, v: ClusterVerdict): Promise<StreamVerdict> {
  const leaderHost = ctx.inventory.hosts.find((h) => h.name === v.leader!.name);
  const lt = leaderHost && ctx.transports.get(leaderHost.name);
  if (!leaderHost || !lt) return { ...v, ok: false, problem: `leader ${v.leader!.name} is not connected` };
  const r = await lt.exec(streamingScript(patroniSettings(ctx.inventory, leaderHost).pgPort));
  const [count = '', list = ''] = r.stdout.trim().split('|');
  const n = Number(count);
  const names = list.split(' ').filter(Boolean);
  if (r.code !== 0 || n < v.replicas.length) {
    // Name a replica that does not stream: its own log says why.
    const missing = r.code === 0 ? v.replicas.map((m) => m.name).filter((n) => !names.includes(n)) : [];
    return {
      ...v,
      ok: false,
      host: missing[0] ?? leaderHost.name,
      problem:
        `${r.code === 0 ? n : '?'} of ${v.replicas.length} replicas stream from the leader ${leaderHost.name} (pg_stat_replication)` +
        (missing.length ? `; not streaming: ${missing.join(', ')}` : ''),
    };
  }
  for (const m of v.replicas) {
    const h = ctx.inventory.hosts.find((x) => x.name === m.name);
    const t = h && ctx.transports.get(h.name);
    if (!h || !t) return { ...v, ok: false, problem: `replica ${m.name} is not connected` };
    const rr = await t.exec(walReceiverScript(patroniSettings(ctx.inventory, h).pgPort));
    if (rr.stdout.trim() !== 'streaming') {
      return {
        ...v,
        ok: false,
        host: h.name,
        problem: `replica ${m.name} wal receiver: ${rr.stdout.trim() || rr.stderr.trim() || 'none'}`,
      };
    }
  }
  return v;
}

export async function verifyPatroniCluster(ctx: StepGroupContext, timeoutMs: number): Promise<ClusterVerdict> {
  const members = withRole(ctx.inventory.hosts, 'postgres');
  const s = patroniSettings(ctx.inventory, members[0]!);
  const expected = members.map((h) => h.name);
  const res = await waitFor<StreamVerdict>(
    async () => {
      const got = await fetchCluster(ctx);
      if (!got) return { ok: false, value: { ok: false, problem: 'no member answers GET /cluster', replicas: [] } };
      const v = judgeCluster(got.cluster, expected, s.replicaMaxLag);
      if (!v.ok) return { ok: false, value: v };
      const sv = await streaming(ctx, v);
      return { ok: sv.ok, value: sv };
    },
    { timeoutMs, intervalMs: 2000, what: 'patroni cluster' },
  );
  if (!res.ok) {
    const v: StreamVerdict =
      res.value instanceof Error ? { ok: false, problem: res.value.message, replicas: [] } : res.value;
    const host = v.host ?? v.leader?.name ?? members[0]!.name;
    throw new CheckError(
      host,
      'patroni cluster: one leader, streaming replicas, one timeline',
      `leader + ${members.length - 1} streaming replicas with lag <= ${s.replicaMaxLag} bytes`,
      v.problem,
      await journal(ctx.transports.get(host), 'patroni'),
    );
  }
  return res.value;
}
