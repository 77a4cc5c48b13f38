// Which members restart, in which order, and why: decided from what PostgreSQL says of its settings (pg_settings:
// the running value and its `context`) compared with the inventory's postgres_parameters, and from Patroni's view
// of the cluster. Plan and apply use the same decision, so the plan says what the run does.

/** Settings a standby may not have lower than its primary (PostgreSQL refuses to start or to replay otherwise). */
export const STANDBY_MIN_PARAMS = [
  'max_connections',
  'max_worker_processes',
  'max_wal_senders',
  'max_prepared_transactions',
  'max_locks_per_transaction',
];

/** One row of pg_settings, as the member's PostgreSQL reports it. */
export interface PgSetting {
  name: string;
  setting: string;
  unit: string;
  context: string; // postmaster, sighup, superuser, user, ...
  vartype: string; // bool, integer, real, string, enum
  pending: boolean; // pg_settings.pending_restart
}

/** A member as the decision sees it. */
export interface RestartMember {
  name: string;
  role: string; // leader | sync_standby | replica | ...
  state: string;
  lag?: number | 'unknown';
  nofailover: boolean;
  /** Patroni's pending_restart flag. */
  pending: boolean;
  /** pg_settings rows of this member (undefined when PostgreSQL could not be read). */
  settings?: PgSetting[];
}

export interface ParamChange {
  name: string;
  current: string;
  desired: string;
  context: string;
  restart: boolean;
  lowered: boolean;
}

export interface RestartAction {
  host: string;
  /** restart: POST /restart in place; switchover: switch over to `candidate`, then restart if still pending. */
  kind: 'restart' | 'switchover';
  leader: boolean;
  candidate?: string;
  /** Why this member restarts (parameters and their context, or the command that asked). */
  reasons: string[];
  /** Why at this place in the order. */
  note: string;
}

const MEMORY: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const TIME: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** A setting's unit ("8kB", "MB", "ms") as a factor in bytes or milliseconds and its family. */
function unitFactor(unit: string): { factor: number; family: 'mem' | 'time' } | undefined {
  const m = /^(\d*)\s*([a-zA-Z]+)$/.exec(unit.trim());
  if (!m) return undefined;
  const n = m[1] ? Number(m[1]) : 1;
  if (MEMORY[m[2]!] !== undefined) return { factor: n * MEMORY[m[2]!]!, family: 'mem' };
  if (TIME[m[2]!] !== undefined) return { factor: n * TIME[m[2]!]!, family: 'time' };
  return undefined;
}

/** A numeric setting in the base of its unit family (bytes, ms), or undefined when it is not one. */
function numeric(value: string, row: PgSetting, isCurrent: boolean): number | undefined {
  if (row.vartype !== 'integer' && row.vartype !== 'real') return undefined;
  const m = /^\s*(-?[0-9.]+)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const base = row.unit ? unitFactor(row.unit) : undefined;
  if (isCurrent || !m[2]) return base ? n * base.factor : n;
  const given = unitFactor(m[2]);
  if (!given || (base && given.family !== base.family)) return undefined;
  return n * given.factor;
}

const TRUE = ['on', 'true', 'yes', '1'];
const FALSE = ['off', 'false', 'no', '0'];

/** Whether the desired inventory value equals what pg_settings shows. */
export function sameSetting(desired: unknown, row: PgSetting): boolean {
  const want = String(desired).trim();
  if (row.vartype === 'bool') {
    const w = want.toLowerCase();
    const h = row.setting.toLowerCase();
    return (TRUE.includes(w) && TRUE.includes(h)) || (FALSE.includes(w) && FALSE.includes(h));
  }
  const a = numeric(want, row, false);
  const b = numeric(row.setting, row, true);
  if (a !== undefined && b !== undefined) return Math.abs(a - b) < 1e-9;
  return row.vartype === 'enum' ? want.toLowerCase() === row.setting.toLowerCase() : want === row.setting;
}

/** The current value as a person reads it: the setting with its unit ("16384 x 8kB" as 128MB). */
export function showSetting(row: PgSetting): string {
  const base = row.unit ? unitFactor(row.unit) : undefined;
  if (!base || base.family !== 'mem' || !/^\d+$/.test(row.setting)) return row.setting + (row.unit ?? '');
  const bytes = Number(row.setting) * base.factor;
  for (const u of ['TB', 'GB', 'MB', 'kB'])
    if (bytes >= MEMORY[u]! && bytes % MEMORY[u]! === 0) return `${bytes / MEMORY[u]!}${u}`;
  return `${bytes}B`;
}

/** The parameters whose desired value differs from the running one, with their context; and settings left pending. */
export function paramChanges(desired: Record<string, unknown>, rows: PgSetting[]): ParamChange[] {
  const out: ParamChange[] = [];
  for (const [name, want] of Object.entries(desired)) {
    const row = rows.find((r) => r.name === name);
    if (!row || sameSetting(want, row)) continue;
    const a = numeric(String(want), row, false);
    const b = numeric(row.setting, row, true);
    out.push({
      name,
      current: showSetting(row),
      desired: String(want),
      context: row.context,
      restart: row.context === 'postmaster',
      lowered: STANDBY_MIN_PARAMS.includes(name) && a !== undefined && b !== undefined && a < b,
    });
  }
  for (const row of rows) {
    if (row.pending && !out.some((c) => c.name === row.name))
      out.push({
        name: row.name,
        current: showSetting(row),
        desired: '(changed, not yet in effect)',
        context: row.context,
        restart: true,
        lowered: false,
      });
  }
  return out;
}

/** Why a member needs a restart, in words; empty when it does not. */
export function restartReasons(m: RestartMember, changes: ParamChange[], forced?: string): string[] {
  if (forced) return [forced];
  const r = changes
    .filter((c) => c.restart)
    .map((c) => `${c.name} ${c.current} -> ${c.desired} (context ${c.context}: restart)`);
  if (!r.length && m.pending) r.push('Patroni reports pending_restart');
  return r;
}

const isLeader = (m: RestartMember) => m.role === 'leader' || m.role === 'standby_leader' || m.role === 'master';

/**
 * The replica to switch over to: running, allowed to fail over, its lag known and within `maxLag`; the
 * synchronous standby first, then the least lagging (inventory order breaks ties). `exclude`: not these.
 */
export function pickCandidate(members: RestartMember[], maxLag: number): RestartMember | undefined {
  const ok = members.filter(
    (m) => !isLeader(m) && m.state === 'running' && !m.nofailover && typeof m.lag === 'number' && m.lag <= maxLag,
  );
  const sync = ok.find((m) => m.role === 'sync_standby');
  if (sync) return sync;
  return [...ok].sort((a, b) => (a.lag as number) - (b.lag as number))[0];
}

export interface RestartDecisionInput {
  /** Members in inventory order. */
  members: RestartMember[];
  /** Per member: why it restarts (empty: it does not). */
  reasons: Map<string, string[]>;
  /** Names of standby-minimum settings this change lowers. */
  lowered: string[];
  inPlace: boolean;
  maxLag: number;
}

/**
 * The order of the restarts:
 * - a lowered standby-minimum setting (max_connections, ...): the primary first, in place, then the replicas
 *   (a replica may not run with less than its primary, so the primary must have the lower value first);
 * - otherwise the replicas first, then the leader: after a switchover to a healthy replica (the synchronous
 *   standby first), restarted as a replica if still pending; or in place with `inPlace`, or when no replica
 *   can take over.
 */
export function decideRestarts(input: RestartDecisionInput): RestartAction[] {
  const need = (m: RestartMember) => (input.reasons.get(m.name) ?? []).length > 0;
  const leader = input.members.find(isLeader);
  const replicas = input.members.filter((m) => m !== leader && need(m));
  const replicaAction = (m: RestartMember, note: string): RestartAction => ({
    host: m.name,
    kind: 'restart',
    leader: false,
    reasons: input.reasons.get(m.name)!,
    note,
  });
  if (!leader || !need(leader)) return replicas.map((m) => replicaAction(m, 'replica, in place'));
  const reasons = input.reasons.get(leader.name)!;
  if (input.lowered.length) {
    return [
      {
        host: leader.name,
        kind: 'restart',
        leader: true,
        reasons,
        note: `leader first, in place: ${input.lowered.join(', ')} is lowered and replicas must keep it >= the primary's`,
      },
      ...replicas.map((m) => replicaAction(m, 'replica, after the leader')),
    ];
  }
  const first = replicas.map((m) => replicaAction(m, 'replica, before the leader'));
  if (input.inPlace)
    return [...first, { host: leader.name, kind: 'restart', leader: true, reasons, note: 'leader last, in place' }];
  const candidate = pickCandidate(input.members, input.maxLag);
  if (!candidate)
    return [
      ...first,
      {
        host: leader.name,
        kind: 'restart',
        leader: true,
        reasons,
        note: 'leader last, in place: no running replica within the failover lag limit to switch over to',
      },
    ];
  return [
    ...first,
    {
      host: leader.name,
      kind: 'switchover',
      leader: true,
      candidate: candidate.name,
      reasons,
      note: `leader last: switchover to ${candidate.name}${candidate.role === 'sync_standby' ? ' (synchronous standby)' : ''} first, then restarted as a replica if still pending`,
    },
  ];
}

/** One line of the plan for an action: "2. pg1 (leader): switchover to pg2 first ...; because shared_buffers ...". */
export function describeAction(a: RestartAction, i: number): string {
  return `${i + 1}. ${a.host}${a.leader ? ' (leader)' : ''}: ${a.note}; because ${a.reasons.join(', ')}`;
}
