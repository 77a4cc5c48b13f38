// The pure parts of bench/compare.ts: the benchmark's pgha inventory, figures (min / median / max, ratios), the
// table, and what is read from the tools' output (Ansible's PLAY RECAP, pgha's --json).
import { stringify } from 'yaml';

export const TOOLS = ['pgha', 'ansible'] as const;
export type Tool = (typeof TOOLS)[number];
export const SCENARIOS = ['bootstrap', 'noop', 'change'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export interface Summary {
  min: number;
  median: number;
  max: number;
  n: number;
}

/** min / median / max of measured values (the median of an even count is the mean of the middle two). */
export function summarize(xs: number[]): Summary {
  if (!xs.length) throw new Error('no values to summarize');
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { min: s[0]!, median, max: s[s.length - 1]!, n: s.length };
}

/** pgha / Ansible of the medians (below 1: pgha is faster). */
export function ratio(pgha: Summary, ansible: Summary): number {
  if (ansible.median <= 0) throw new Error('Ansible median is not positive');
  return pgha.median / ansible.median;
}

export type Times = Record<Tool, Record<Scenario, number[]>>;

export interface Row {
  scenario: Scenario;
  pgha: Summary;
  ansible: Summary;
  ratio: number;
}

export function rows(t: Times): Row[] {
  return SCENARIOS.filter((s) => t.pgha[s].length && t.ansible[s].length).map((s) => {
    const pgha = summarize(t.pgha[s]);
    const ansible = summarize(t.ansible[s]);
    return { scenario: s, pgha, ansible, ratio: ratio(pgha, ansible) };
  });
}

const f = (x: number) => x.toFixed(1);
const mmm = (s: Summary) => `${f(s.min)} / ${f(s.median)} / ${f(s.max)}`;

/** A Markdown table: seconds min / median / max per scenario and tool, and the ratio of the medians. */
export function table(rs: Row[]): string {
  const lines = [
    '| scenario | pgha (s) min / median / max | Ansible (s) min / median / max | pgha / Ansible (medians) |',
    '| --- | --- | --- | --- |',
  ];
  for (const r of rs) lines.push(`| ${r.scenario} | ${mmm(r.pgha)} | ${mmm(r.ansible)} | ${r.ratio.toFixed(2)} |`);
  return lines.join('\n');
}

export interface RecapLine {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
}

/** Ansible's PLAY RECAP: per host ok, changed, unreachable, failed (other counters ignored). */
export function parseRecap(out: string): Record<string, RecapLine> {
  const at = out.lastIndexOf('PLAY RECAP');
  if (at < 0) return {};
  const res: Record<string, RecapLine> = {};
  for (const line of out.slice(at).split('\n').slice(1)) {
    const m = /^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/.exec(line.trim());
    if (m) res[m[1]!] = { ok: +m[2]!, changed: +m[3]!, unreachable: +m[4]!, failed: +m[5]! };
  }
  return res;
}

export function recapTotals(r: Record<string, RecapLine>): RecapLine & { hosts: number } {
  const v = Object.values(r);
  const sum = (k: keyof RecapLine) => v.reduce((a, x) => a + x[k], 0);
  return {
    hosts: v.length,
    ok: sum('ok'),
    changed: sum('changed'),
    unreachable: sum('unreachable'),
    failed: sum('failed'),
  };
}

/** profile_tasks' lines at the end of a run: "task name ---- 12.34s". The slowest first. */
export function parseTaskTimes(out: string): { task: string; seconds: number }[] {
  const res: { task: string; seconds: number }[] = [];
  for (const line of out.split('\n')) {
    const m = /^(.+?)\s-{3,}\s+(\d+(?:\.\d+)?)s$/.exec(line.trim());
    if (m && !/^=+$/.test(m[1]!)) res.push({ task: m[1]!, seconds: Number(m[2]) });
  }
  return res.sort((a, b) => b.seconds - a.seconds);
}

/** What pgha up --json says about where the time went: steps by seconds, round trips per host, changes. */
export interface PghaProfile {
  seconds: number;
  changes: number;
  steps: { step: string; seconds: number }[];
  roundTrips: Record<string, number>;
}

export function pghaProfile(json: unknown): PghaProfile {
  const j = json as {
    seconds?: number;
    totals?: { changes?: number };
    steps?: { step: string; seconds: number }[];
    roundTrips?: Record<string, number>;
  };
  if (typeof j?.totals?.changes !== 'number') throw new Error('pgha --json output without totals.changes');
  return {
    seconds: Number(j.seconds ?? 0),
    changes: j.totals.changes,
    steps: [...(j.steps ?? [])].sort((a, b) => b.seconds - a.seconds),
    roundTrips: j.roundTrips ?? {},
  };
}

/** The steps whose id starts with a component name, summed: where the run's time went by component. */
export function secondsByComponent(steps: { step: string; seconds: number }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of steps) {
    const c = s.step.split('.')[0]!;
    out[c] = (out[c] ?? 0) + s.seconds;
  }
  return out;
}

export interface BenchHost {
  name: string;
  last: number;
  roles: string[];
}

/** lb1, lb2 (HAProxy + keepalived), pg1-pg3 (PostgreSQL + Patroni + etcd): 5 hosts. */
export const BENCH_HOSTS: BenchHost[] = [
  { name: 'lb1', last: 21, roles: ['haproxy'] },
  { name: 'lb2', last: 22, roles: ['haproxy'] },
  { name: 'pg1', last: 11, roles: ['postgres', 'etcd'] },
  { name: 'pg2', last: 12, roles: ['postgres', 'etcd'] },
  { name: 'pg3', last: 13, roles: ['postgres', 'etcd'] },
];

/** What the change scenario sets: one HAProxy setting (a reload) and one reload-only PostgreSQL parameter. */
export interface ChangeVars {
  haproxy_maxconn: number;
  work_mem: string;
}

export const BASE_VARS: ChangeVars = { haproxy_maxconn: 2000, work_mem: '4MB' };
export const CHANGED_VARS: ChangeVars = { haproxy_maxconn: 2500, work_mem: '8MB' };

/**
 * The benchmark's pgha inventory: a lab on `subnet` (a /24, "10.231.34.0/24"), VIP .100, 5 hosts, and only what
 * both tools build: no TLS, PgBouncer, backups, metrics or firewall (all but TLS are off by default).
 */
export function benchInventory(cluster: string, subnet: string, v: ChangeVars = BASE_VARS): string {
  const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(subnet);
  if (!m) throw new Error(`subnet ${subnet}: a /24 ending in .0 is needed`);
  const doc = {
    cluster,
    provider: 'lab',
    network: { subnet, vip: `${m[1]}.100` },
    ssh: { user: 'root' },
    vars: {
      tls_enabled: false,
      pgbouncer_enabled: false,
      firewall_enabled: false,
      metrics_node_exporter: false,
      metrics_postgres_exporter: false,
      metrics_haproxy: false,
      haproxy_maxconn: v.haproxy_maxconn,
      postgres_parameters: { max_connections: 100, shared_buffers: '128MB', work_mem: v.work_mem },
    },
    hosts: Object.fromEntries(BENCH_HOSTS.map((h) => [h.name, { address: `${m[1]}.${h.last}`, roles: h.roles }])),
  };
  return `# Written by bench/compare.ts for one benchmark run.\n${stringify(doc)}`;
}
