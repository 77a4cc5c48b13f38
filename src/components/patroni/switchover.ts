// What the cluster commands (switchover, failover, reinit) read before they act, and the rules that refuse them:
// the cluster as Patroni sees it (GET /cluster from any member whose REST API answers), the failover lag limit
// from the DCS (GET /config), and which replicas stream from the leader (the leader's GET /patroni).
import type { StepGroupContext } from '../../engine/types.js';
import { UserError } from '../../util/errors.js';
import { obj, python3, renderProgram, withRole } from '../common.js';
import { restAuthLines } from './restart.js';
import { fetchCluster } from './checks.js';
import { LEADER_ROLES, type PatroniCluster, type PatroniMember } from './facts.js';
import { patroniSettings } from './settings.js';
import { apiClientLines, patroniGet, type PatroniApi } from './api.js';

export interface ClusterView {
  cluster: PatroniCluster;
  /** The member that answered GET /cluster. */
  from: string;
  /** maximum_lag_on_failover from the DCS (the inventory's when the DCS does not say). */
  maxLag: number;
  /** Members streaming from the leader (its GET /patroni replication list), when a leader answered. */
  streaming: string[];
}

/** A leader that holds the lock and runs. */
export function healthyLeader(c: PatroniCluster): PatroniMember | undefined {
  return c.members.find((m) => LEADER_ROLES.includes(m.role) && m.state === 'running');
}

async function getJson(
  ctx: StepGroupContext,
  name: string,
  path: string,
): Promise<Record<string, unknown> | undefined> {
  const h = ctx.inventory.hosts.find((x) => x.name === name);
  const t = h && ctx.transports.get(h.name);
  if (!h || !t) return undefined;
  try {
    const r = await patroniGet(t, ctx.inventory, h, path);
    return r.status === 200 ? obj(JSON.parse(r.body)) : undefined;
  } catch {
    return undefined;
  }
}

/** The cluster as the commands judge it; a UserError when no member's REST API answers. */
export async function readClusterView(ctx: StepGroupContext): Promise<ClusterView> {
  const got = await fetchCluster(ctx);
  if (!got)
    throw new UserError(
      'no Patroni member answers GET /cluster: nothing can be switched over, failed over or rebuilt',
      'check the members with pgha status; start Patroni on them (pgha up)',
    );
  const members = withRole(ctx.inventory.hosts, 'postgres');
  const config = await getJson(ctx, got.from, '/config');
  const dcsLag = config?.maximum_lag_on_failover;
  const maxLag = typeof dcsLag === 'number' ? dcsLag : patroniSettings(ctx.inventory, members[0]!).maxLagOnFailover;
  const leader = healthyLeader(got.cluster);
  const status = leader ? await getJson(ctx, leader.name, '/patroni') : undefined;
  const streaming = (Array.isArray(status?.replication) ? status.replication : [])
    .map(obj)
    .filter((r) => r.state === 'streaming')
    .map((r) => String(r.application_name ?? ''));
  return { cluster: got.cluster, from: got.from, maxLag, streaming };
}

/** The named host as a postgres member of the inventory (exit 2 otherwise). */
function memberHost(ctx: StepGroupContext, name: string, what: string): void {
  const names = withRole(ctx.inventory.hosts, 'postgres').map((h) => h.name);
  if (!names.includes(name))
    throw new UserError(
      `${what}: ${name} is not a postgres member of the inventory`,
      `choose one of ${names.join(', ')}`,
    );
}

/** Why `m` may not take over (undefined when it may). */
export function candidateProblem(v: ClusterView, m: PatroniMember, needStreaming: boolean): string | undefined {
  if (m.nofailover) return `${m.name} has the nofailover tag`;
  if (m.state !== 'running') return `${m.name} is ${m.state || 'in no state'}, not running`;
  if (needStreaming && !v.streaming.includes(m.name)) return `${m.name} does not stream from the leader`;
  if (typeof m.lag !== 'number') return `${m.name}'s lag is unknown`;
  if (m.lag > v.maxLag) return `${m.name} lags ${m.lag} bytes, more than maximum_lag_on_failover (${v.maxLag})`;
  return undefined;
}

/** Leader and candidate of a switchover, or a UserError saying why not. */
export function switchoverTarget(
  ctx: StepGroupContext,
  v: ClusterView,
  to: string | undefined,
): { leader: PatroniMember; candidate: PatroniMember } {
  if (to) memberHost(ctx, to, 'pgha switchover --to');
  const leader = healthyLeader(v.cluster);
  if (!leader)
    throw new UserError(
      'pgha switchover needs a running leader, and there is none: a switchover hands over from a healthy leader',
      'use pgha failover --to HOST to promote a replica',
    );
  if (to === leader.name)
    throw new UserError(`pgha switchover --to ${to}: ${to} is the leader already`, 'name a replica');
  const replicas = v.cluster.members.filter((m) => m !== leader);
  if (to) {
    const m = replicas.find((x) => x.name === to);
    if (!m) throw new UserError(`pgha switchover --to ${to}: ${to} is not a member of the running cluster`);
    const why = candidateProblem(v, m, true);
    if (why)
      throw new UserError(`pgha switchover --to ${to} refused: ${why}`, 'choose a healthy replica (pgha status)');
    return { leader, candidate: m };
  }
  const ok = replicas.filter((m) => !candidateProblem(v, m, true));
  const candidate = ok.find((m) => m.role === 'sync_standby') ?? ok.sort((a, b) => Number(a.lag) - Number(b.lag))[0];
  if (!candidate)
    throw new UserError(
      `pgha switchover refused: no healthy replica to hand over to (${replicas.map((m) => candidateProblem(v, m, true)).join('; ') || 'no replicas'})`,
      'repair a replica first (pgha reinit HOST)',
    );
  return { leader, candidate };
}

/** The candidate of a failover (only without a healthy leader), or a UserError saying why not. */
export function failoverTarget(ctx: StepGroupContext, v: ClusterView, to: string): PatroniMember {
  memberHost(ctx, to, 'pgha failover --to');
  const leader = healthyLeader(v.cluster);
  if (leader)
    throw new UserError(
      `pgha failover refused: ${leader.name} is a running leader; a failover is for a cluster without one`,
      `use pgha switchover --to ${to === leader.name ? 'HOST' : to} to move the leader role without losing writes`,
    );
  const m = v.cluster.members.find((x) => x.name === to);
  if (!m) throw new UserError(`pgha failover --to ${to}: ${to} is not a member of the running cluster`);
  const why = candidateProblem(v, m, false);
  if (why) throw new UserError(`pgha failover --to ${to} refused: ${why}`, 'choose a healthy replica (pgha status)');
  return m;
}

/** The member to rebuild: a replica, with a running leader to clone from. */
export function reinitTarget(ctx: StepGroupContext, v: ClusterView, host: string): PatroniMember {
  memberHost(ctx, host, 'pgha reinit');
  const leader = healthyLeader(v.cluster);
  const m = v.cluster.members.find((x) => x.name === host);
  if (LEADER_ROLES.includes(m?.role ?? ''))
    throw new UserError(
      `pgha reinit ${host} refused: ${host} is the leader; only a replica is rebuilt from the leader`,
      `switch over first (pgha switchover), then rebuild ${host}`,
    );
  if (!leader)
    throw new UserError(
      `pgha reinit ${host} refused: there is no running leader to clone from`,
      'use pgha failover --to HOST first',
    );
  if (!m) throw new UserError(`pgha reinit ${host}: ${host} is not a member of the running cluster`);
  return m;
}

/** POST /reinitialize on the member itself, then wait until it runs again as a replica (credentials on stdin). */
export function reinitScript(api: PatroniApi, o: { timeoutSec?: number; pollSec?: number; minSec?: number } = {}) {
  return python3(
    renderProgram('patroni/reinit.py.hbs', {
      rest_auth: restAuthLines(),
      api_client: apiClientLines(api),
      timeout_sec: o.timeoutSec ?? 900,
      poll_sec: o.pollSec ?? 1,
      min_sec: o.minSec ?? 5,
    }),
  );
}
