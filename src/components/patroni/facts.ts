// Parsers for Patroni 3.0.2's REST API (GET /cluster, GET /patroni) and the cluster rules pgha checks.
import { apiClientLines, type PatroniApi } from './api.js';
import type { FactSpec } from '../../engine/types.js';
import { obj, python3, renderProgram } from '../common.js';
import type { PgSetting } from './restart-plan.js';

export interface PatroniMember {
  name: string;
  role: string; // leader | standby_leader | sync_standby | replica
  state: string; // running, starting, stopped, creating replica, ... (3.0.2 has no "streaming")
  host: string;
  port: number;
  apiUrl: string;
  timeline?: number;
  lag?: number | 'unknown'; // bytes, non-leaders only
  pendingRestart: boolean;
  nofailover: boolean;
}

export interface PatroniCluster {
  members: PatroniMember[];
  pause: boolean;
}

export function parseCluster(text: string): PatroniCluster {
  const doc = obj(JSON.parse(text));
  const members = Array.isArray(doc.members) ? doc.members : [];
  return {
    pause: doc.pause === true,
    members: members.map((m) => {
      const o = obj(m);
      const lag = o.lag;
      return {
        name: String(o.name ?? ''),
        role: String(o.role ?? ''),
        state: String(o.state ?? ''),
        host: String(o.host ?? ''),
        port: typeof o.port === 'number' ? o.port : 0,
        apiUrl: String(o.api_url ?? ''),
        timeline: typeof o.timeline === 'number' ? o.timeline : undefined,
        lag: typeof lag === 'number' ? lag : lag === undefined ? undefined : 'unknown',
        pendingRestart: o.pending_restart === true,
        nofailover: obj(o.tags).nofailover === true,
      };
    }),
  };
}

export interface PatroniNodeStatus {
  state: string;
  role: string; // "master" for the primary in 3.0.2
  timeline?: number;
}

export function parsePatroniStatus(text: string): PatroniNodeStatus {
  const o = obj(JSON.parse(text));
  return {
    state: String(o.state ?? ''),
    role: String(o.role ?? ''),
    timeline: typeof o.timeline === 'number' ? o.timeline : undefined,
  };
}

export const LEADER_ROLES = ['leader', 'standby_leader'];

export interface ClusterVerdict {
  ok: boolean;
  problem: string;
  leader?: PatroniMember;
  replicas: PatroniMember[];
}

/**
 * Exactly one leader; every expected member there, the others running replicas below the lag bound; one timeline.
 * A member the inventory does not name (dropped from it, removed by `pgha up --prune`) is left out of the verdict:
 * plan and up list it instead. The leader is judged wherever it runs.
 */
export function judgeCluster(c: PatroniCluster, expected: string[], maxLag: number): ClusterVerdict {
  const leaders = c.members.filter((m) => LEADER_ROLES.includes(m.role));
  const replicas = c.members.filter((m) => !LEADER_ROLES.includes(m.role) && expected.includes(m.name));
  const judged = c.members.filter((m) => LEADER_ROLES.includes(m.role) || expected.includes(m.name));
  const fail = (problem: string): ClusterVerdict => ({ ok: false, problem, leader: leaders[0], replicas });
  if (leaders.length !== 1)
    return fail(`${leaders.length} leaders (${leaders.map((l) => l.name).join(', ') || 'none'})`);
  const leader = leaders[0]!;
  const names = c.members.map((m) => m.name);
  const missing = expected.filter((n) => !names.includes(n));
  if (missing.length) return fail(`members missing: ${missing.join(', ')}`);
  if (leader.state !== 'running') return fail(`leader ${leader.name} is ${leader.state}`);
  for (const r of replicas) {
    if (r.state !== 'running') return fail(`replica ${r.name} is ${r.state || 'in no state'}`);
    if (typeof r.lag !== 'number') return fail(`replica ${r.name} lag is unknown`);
    if (r.lag > maxLag) return fail(`replica ${r.name} lags ${r.lag} bytes (> ${maxLag})`);
  }
  const timelines = new Set(judged.map((m) => m.timeline));
  if (timelines.size !== 1 || leader.timeline === undefined) {
    return fail(`timelines differ: ${judged.map((m) => `${m.name}=${m.timeline ?? '?'}`).join(' ')}`);
  }
  if (c.pause) return fail('cluster is paused (maintenance mode)');
  return { ok: true, problem: '', leader, replicas };
}

export interface RestartProbe {
  patroni?: { state: string; role: string; pendingRestart: boolean };
  cluster?: PatroniCluster;
  settings?: PgSetting[];
}

/**
 * One member's facts for the restart decision, read in one round trip: GET /patroni, GET /cluster and the
 * pg_settings rows of `names` and of every setting left pending (value, unit, context).
 */
export function restartProbeFact(api: PatroniApi, pgPort: number, names: string[]): FactSpec<RestartProbe> {
  return {
    script: python3(
      renderProgram('patroni/restart-facts.py.hbs', {
        api_client: apiClientLines(api),
        pg_port: pgPort,
        names: JSON.stringify(names),
      }),
    ),
    parse(stdout) {
      const doc = obj(JSON.parse(stdout.trim().split('\n').pop() || '{}'));
      const p = doc.patroni ? obj(doc.patroni) : undefined;
      return {
        patroni: p
          ? { state: String(p.state ?? ''), role: String(p.role ?? ''), pendingRestart: p.pending_restart === true }
          : undefined,
        cluster: doc.cluster ? parseCluster(JSON.stringify(doc.cluster)) : undefined,
        settings: Array.isArray(doc.settings)
          ? doc.settings.map((r) => {
              const o = obj(r);
              return {
                name: String(o.name ?? ''),
                setting: String(o.setting ?? ''),
                unit: String(o.unit ?? ''),
                context: String(o.context ?? ''),
                vartype: String(o.vartype ?? ''),
                pending: o.pending === true,
              };
            })
          : undefined,
      };
    },
  };
}
