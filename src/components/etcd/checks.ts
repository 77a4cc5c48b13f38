// etcd cross-host work: membership reconciliation before configuring, health and agreement checks after.
import type { Host } from '../../inventory/types.js';
import type { StepContext, StepGroupContext, Transport } from '../../engine/types.js';
import { CheckError, RemoteError } from '../../util/errors.js';
import { waitFor } from '../../engine/wait.js';
import { shq } from '../../engine/quote.js';
import { etcdSettings } from './settings.js';
import { journal, renderProgram, withRole } from '../common.js';
import { foreignMembers, repairForeign } from './repair.js';
import {
  etcdctl,
  parseEndpointHealth,
  parseEndpointStatus,
  parseMemberList,
  type EtcdEndpointStatus,
  type EtcdMemberList,
} from './facts.js';
import { etcdTls, isPeerUrlOf, localClient, peerUrl } from './tls.js';

/** The peer URL a member joins with: https with TLS (a new member starts secure, see ./tls.ts). */
function newPeerUrl(ctx: Pick<StepGroupContext, 'inventory'>, h: Host): string {
  return peerUrl(ctx.inventory, h, etcdTls(ctx.inventory, h) ? 'https' : 'http');
}

export interface MemberProbe {
  host: Host;
  hasData: boolean;
  status?: EtcdEndpointStatus;
  list?: EtcdMemberList;
}

const SPLIT = '---pgha-split---';

/** The script of probeMember (read-only). */
export function probeMemberScript(ctx: Pick<StepGroupContext, 'inventory'>, host: Host): string {
  const s = etcdSettings(ctx.inventory, host);
  const ep = localClient(ctx.inventory, host);
  return renderProgram('etcd/probe-member.sh.hbs', {
    member_dir: shq(`${s.etcdDataDir}/member`),
    split: SPLIT,
    endpoint_status: etcdctl(ep, ['endpoint', 'status', '-w', 'json']),
    member_list: etcdctl(ep, ['member', 'list', '-w', 'json']),
  });
}

/** Read-only look at one member: pgha data present, and what its local endpoint says. */
export async function probeMember(ctx: StepGroupContext, host: Host): Promise<MemberProbe> {
  const t = ctx.transports.get(host.name);
  if (!t) return { host, hasData: false };
  const r = await t.exec(probeMemberScript(ctx, host), { timeoutMs: 30_000 });
  const [data = '', status = '', list = ''] = r.stdout.split(SPLIT);
  const st = parseEndpointStatus(status)[0];
  const ml = parseMemberList(list);
  return { host, hasData: data.trim() === 'yes', status: st, list: ml ?? undefined };
}

/**
 * Before configuring: members whose data belongs to another cluster are reported; a member that lost its
 * data (or is new) while the cluster runs is added to it (`member remove` of its stale entry, then
 * `member add`), so it joins with state `existing` instead of forming a second cluster. Membership changes go
 * through a running member (the leader when it answers, else any other).
 */
export async function reconcileMembers(ctx: StepGroupContext): Promise<void> {
  // A host that is not connected says nothing about its data: it is neither joined nor replaced.
  const hosts = withRole(ctx.hosts, 'etcd').filter((h) => {
    if (ctx.transports.has(h.name)) return true;
    ctx.log(`${h.name} is not connected: its etcd membership is left as it is`);
    return false;
  });
  const probes = await Promise.all(hosts.map((h) => probeMember(ctx, h)));
  const running = probes.filter((p) => p.hasData && p.status && p.list);

  // Cluster identity: every formed member must report the same cluster id. A member whose data belongs to
  // another cluster (or that the cluster's member list does not have) is repaired after confirmation.
  const foreign = foreignMembers(ctx, probes, running);
  if (foreign.length) await repairForeign(ctx, foreign);

  const repaired = new Set(foreign.map((f) => f.probe.host.name));
  const withData = probes.filter((p) => p.hasData && !repaired.has(p.host.name));
  const fresh = probes.filter((p) => !p.hasData);
  if (ctx.check)
    planNewHosts(
      ctx,
      probes,
      running.filter((p) => !repaired.has(p.host.name)),
    );
  if (fresh.length === 0 || withData.length === 0) return; // all formed, or a new cluster: nothing to join
  const members = running.filter((p) => !repaired.has(p.host.name));
  if (members.length === 0) {
    const h = withData[0]!.host;
    throw new CheckError(
      h.name,
      'etcd cluster running',
      'a running member to join new members to',
      `members with data (${withData.map((p) => p.host.name).join(', ')}) do not answer`,
      await journal(ctx.transports.get(h.name), 'etcd'),
      'start etcd on the formed members first (systemctl start etcd), then apply again',
    );
  }
  let leaderProbe = members.find((p) => p.status!.memberId === p.status!.leader) ?? members[0]!;
  const t = ctx.transports.get(leaderProbe.host.name)!;
  for (const p of fresh) {
    const peer = newPeerUrl(ctx, p.host);
    const list = leaderProbe.list!;
    const entry = list.members.find((m) => m.peerURLs.some((u) => isPeerUrlOf(ctx.inventory, p.host, u)));
    if (entry && entry.name === '') continue; // added before, not started yet: it joins on start
    const ep = localClient(ctx.inventory, leaderProbe.host);
    const cmds: string[] = [];
    if (entry) cmds.push(`${etcdctl(ep, ['member', 'remove', entry.id])}`);
    cmds.push(`${etcdctl(ep, ['member', 'add', p.host.name, `--peer-urls=${peer}`])}`);
    const what = `${entry ? `replace stale member ${entry.id} and ` : ''}add ${p.host.name} (${peer}) to the etcd cluster`;
    if (ctx.check) {
      ctx.log(`would ${what}`);
      continue;
    }
    ctx.log(what);
    const r = await t.exec(cmds.join(' && '), { timeoutMs: 30_000 });
    if (r.code !== 0)
      throw new RemoteError(leaderProbe.host.name, `etcd member add for ${p.host.name} failed`, r.stderr.trim());
    leaderProbe = await probeMember(ctx, leaderProbe.host);
  }
}

/** In a plan: etcd hosts that do not exist yet (or are not reached) are added to the running cluster first. */
function planNewHosts(ctx: StepGroupContext, probes: MemberProbe[], members: MemberProbe[]): void {
  const via = members.find((p) => p.status!.memberId === p.status!.leader) ?? members[0];
  if (!via) return;
  const probed = new Set(probes.map((p) => p.host.name));
  for (const h of withRole(ctx.inventory.hosts, 'etcd').filter((x) => !probed.has(x.name))) {
    const peer = newPeerUrl(ctx, h);
    if (via.list!.members.some((m) => m.peerURLs.some((u) => isPeerUrlOf(ctx.inventory, h, u)))) continue;
    ctx.log(
      `would add ${h.name} (${peer}) to the etcd cluster through ${via.host.name} (etcdctl member add) before its etcd starts, with initial-cluster-state existing`,
    );
  }
}

/** The script of verifyLocalMember's health read. */
export function localHealthScript(ctx: Pick<StepContext, 'inventory' | 'host'>): string {
  return `${etcdctl(localClient(ctx.inventory, ctx.host), ['endpoint', 'health', '-w', 'json'])} 2>&1`;
}

/** Exit 0 when etcd runs here on a formed member (the config steps check only such a member). */
export function formedRunningScript(ctx: Pick<StepContext, 'inventory' | 'host'>): string {
  return `systemctl is-active --quiet etcd && test -d ${etcdSettings(ctx.inventory, ctx.host).etcdDataDir}/member`;
}

/** A formed, running member answers healthy (the check of the config and secure steps). */
export async function verifyFormedMember(ctx: StepContext, t: Transport): Promise<void> {
  const r = await t.exec(formedRunningScript(ctx));
  if (r.code === 0) await verifyLocalMember(ctx, t, 60_000);
}

/** What verifyFormedMember reads. */
export function formedMemberReads(ctx: StepContext): string[] {
  return [formedRunningScript(ctx), localHealthScript(ctx)];
}

/** The local member answers healthy (bounded wait). */
export async function verifyLocalMember(ctx: StepContext, t: Transport, timeoutMs: number): Promise<void> {
  const script = localHealthScript(ctx);
  const res = await waitFor(
    async () => {
      const r = await t.exec(script, { timeoutMs: 15_000 });
      const h = parseEndpointHealth(r.stdout)[0];
      return { ok: h?.health === true, value: h ? h.error || 'unhealthy' : r.stdout.trim().slice(-300) };
    },
    { timeoutMs, intervalMs: 1000, what: 'etcd member health' },
  );
  if (!res.ok) {
    throw new CheckError(ctx.host.name, 'etcd member healthy', 'healthy', String(res.value), await journal(t, 'etcd'));
  }
}

export interface EtcdAgreement {
  ok: boolean;
  problem: string;
  host?: string;
  leader?: string;
  members?: string[];
}

/** What etcdAgreement reads on one member. */
export function agreementScript(ctx: Pick<StepGroupContext, 'inventory'>, h: Host): string {
  const ep = localClient(ctx.inventory, h);
  return (
    `${etcdctl(ep, ['member', 'list', '-w', 'json'])} 2>/dev/null; echo ${SPLIT}; ` +
    `${etcdctl(ep, ['endpoint', 'status', '--cluster', '-w', 'json'])} 2>/dev/null; echo ${SPLIT}; ` +
    `${etcdctl(ep, ['endpoint', 'health', '--cluster', '-w', 'json'])} 2>/dev/null; true`
  );
}

/** What etcdAgreement (verifyEtcdCluster) reads, on each etcd host of the group. */
export function agreementReads(ctx: Pick<StepGroupContext, 'inventory' | 'hosts'>) {
  return withRole(ctx.hosts, 'etcd').map((h) => ({ host: h.name, script: agreementScript(ctx, h) }));
}

/** What reconcileMembers reads (probeMember on each etcd host of the group). */
export function memberProbeReads(ctx: Pick<StepGroupContext, 'inventory' | 'hosts'>) {
  return withRole(ctx.hosts, 'etcd').map((h) => ({ host: h.name, script: probeMemberScript(ctx, h) }));
}

/** Compare what every member says: same cluster id, member list, leader; all healthy; list = inventory. */
export async function etcdAgreement(ctx: StepGroupContext): Promise<EtcdAgreement> {
  const hosts = withRole(ctx.hosts, 'etcd');
  const expected = hosts.map((h) => h.name).sort();
  let leader: string | undefined;
  let clusterId: string | undefined;
  let memberIds: string | undefined;
  for (const h of hosts) {
    const t = ctx.transports.get(h.name);
    if (!t) return { ok: false, problem: 'not connected', host: h.name };
    const r = await t.exec(agreementScript(ctx, h), { timeoutMs: 30_000 });
    const [ml = '', st = '', he = ''] = r.stdout.split(SPLIT);
    const list = parseMemberList(ml);
    if (!list) return { ok: false, problem: 'member list unavailable', host: h.name };
    const names = list.members.map((m) => m.name).sort();
    if (JSON.stringify(names) !== JSON.stringify(expected)) {
      const extra = names.filter((n) => n && !ctx.inventory.hosts.some((x) => x.name === n));
      return {
        ok: false,
        problem:
          `member list ${JSON.stringify(names)} != inventory ${JSON.stringify(expected)}` +
          (extra.length ? `; not in the inventory: ${extra.join(', ')} (pgha up --prune removes them)` : ''),
        host: h.name,
      };
    }
    if (list.members.some((m) => m.isLearner))
      return { ok: false, problem: 'a member is still a learner', host: h.name };
    const ids = list.members
      .map((m) => m.id)
      .sort()
      .join(',');
    if (memberIds !== undefined && ids !== memberIds)
      return { ok: false, problem: `member ids ${ids} != ${memberIds}`, host: h.name };
    memberIds = ids;
    const statuses = parseEndpointStatus(st);
    if (statuses.length !== hosts.length) {
      return { ok: false, problem: `${statuses.length} of ${hosts.length} endpoints answered status`, host: h.name };
    }
    for (const s of statuses) {
      if (clusterId !== undefined && s.clusterId !== clusterId) {
        return { ok: false, problem: `cluster id ${s.clusterId} at ${s.endpoint} != ${clusterId}`, host: h.name };
      }
      clusterId = s.clusterId;
      if (s.leader === '0') return { ok: false, problem: `no leader at ${s.endpoint}`, host: h.name };
      if (leader !== undefined && s.leader !== leader) {
        return { ok: false, problem: `leader ${s.leader} at ${s.endpoint} != ${leader}`, host: h.name };
      }
      leader = s.leader;
    }
    const health = parseEndpointHealth(he);
    const bad = health.filter((x) => !x.health);
    if (health.length !== hosts.length || bad.length > 0) {
      return {
        ok: false,
        problem: `unhealthy: ${bad.map((b) => `${b.endpoint} ${b.error}`).join('; ') || 'missing endpoints'}`,
        host: h.name,
      };
    }
  }
  if (leader && memberIds && !memberIds.split(',').includes(leader)) {
    return { ok: false, problem: `leader ${leader} is not a member` };
  }
  return { ok: true, problem: '', leader, members: expected };
}

export async function verifyEtcdCluster(ctx: StepGroupContext, timeoutMs: number): Promise<void> {
  const res = await waitFor(
    async () => {
      const a = await etcdAgreement(ctx);
      return { ok: a.ok, value: a };
    },
    { timeoutMs, intervalMs: 2000, what: 'etcd members agree' },
  );
  if (!res.ok) {
    const a: EtcdAgreement = res.value instanceof Error ? { ok: false, problem: res.value.message } : res.value;
    const host = a.host ?? withRole(ctx.hosts, 'etcd')[0]?.name ?? 'etcd';
    throw new CheckError(
      host,
      'etcd members agree on members and leader, all healthy',
      `${withRole(ctx.hosts, 'etcd').length} healthy members, one leader`,
      a.problem || String(res.value),
      await journal(ctx.transports.get(host), 'etcd'),
    );
  }
}
