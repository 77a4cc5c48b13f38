// etcd members whose data belongs to another cluster (another cluster id), or that the cluster's member list does
// not have (removed, then started again with their old data: etcd refuses them for good). After confirmation each
// one is repaired through a running member of the cluster: `member remove` of its entry if listed, etcd stopped
// and its data dir wiped, `member add`; the start step then starts it with initial-cluster-state existing.
import type { StepGroupContext } from '../../engine/types.js';
import { CheckError, RemoteError, UserError } from '../../util/errors.js';
import { shq } from '../../engine/quote.js';
import { journal } from '../common.js';
import { etcdSettings } from './settings.js';
import { etcdctl, type EtcdMember } from './facts.js';
import type { MemberProbe } from './checks.js';
import { etcdTls, isPeerUrlOf, localClient, peerUrl } from './tls.js';

export interface ForeignMember {
  probe: MemberProbe;
  reason: string;
  /** Its entry in the cluster's member list (by peer URL), removed before it is added again. */
  listed?: EtcdMember;
  /** A running member of the cluster, through which the membership changes go. */
  via: MemberProbe;
}

/** The peer URL a repaired member is added with (https with TLS: it starts secure). */
function newPeerUrl(ctx: StepGroupContext, p: MemberProbe): string {
  return peerUrl(ctx.inventory, p.host, etcdTls(ctx.inventory, p.host) ? 'https' : 'http');
}

/** The members that do not belong: a minority cluster id, or data on a member the cluster's list does not have. */
export function foreignMembers(ctx: StepGroupContext, probes: MemberProbe[], running: MemberProbe[]): ForeignMember[] {
  const byCluster = new Map<string, MemberProbe[]>();
  for (const p of running) byCluster.set(p.status!.clusterId, [...(byCluster.get(p.status!.clusterId) ?? []), p]);
  if (byCluster.size === 0) return [];
  const groups = [...byCluster.entries()].sort((a, b) => b[1].length - a[1].length);
  const [clusterId, majority] = groups[0]!;
  const via = majority.find((p) => p.status!.memberId === p.status!.leader) ?? majority[0]!;
  const list = via.list!;
  const entry = (p: MemberProbe) =>
    list.members.find((m) => m.peerURLs.some((u) => isPeerUrlOf(ctx.inventory, p.host, u)));
  const out: ForeignMember[] = [];
  for (const [otherId, others] of groups.slice(1))
    for (const p of others)
      out.push({
        probe: p,
        reason: `its data dir belongs to cluster ${otherId}, not ${clusterId} (as on ${majority.map((m) => m.host.name).join(', ')})`,
        listed: entry(p),
        via,
      });
  for (const p of probes.filter((x) => x.hasData && !x.status && !entry(x)))
    out.push({
      probe: p,
      reason: `it has member data but is not in the member list of cluster ${clusterId} (removed earlier, or of another cluster)`,
      via,
    });
  return out;
}

/** Repairs after confirmation (check mode: says what it would do). Without a way to ask, reports as before. */
export async function repairForeign(ctx: StepGroupContext, foreign: ForeignMember[]): Promise<void> {
  const what = (f: ForeignMember) =>
    `${f.listed ? `etcdctl member remove ${f.listed.id}, ` : ''}stop etcd, wipe ${etcdSettings(ctx.inventory, f.probe.host).etcdDataDir}, etcdctl member add ${f.probe.host.name}, start it as an existing member`;
  if (ctx.check) {
    for (const f of foreign) ctx.log(`${f.probe.host.name}: ${f.reason}: would repair it (${what(f)})`);
    return;
  }
  const first = foreign[0]!;
  if (!ctx.confirm) {
    throw new CheckError(
      first.probe.host.name,
      'etcd cluster identity',
      'a member of this cluster',
      first.reason,
      await journal(ctx.transports.get(first.probe.host.name), 'etcd'),
      `run pgha up on a terminal (it repairs it after asking), or stop etcd on ${first.probe.host.name}, remove ${etcdSettings(ctx.inventory, first.probe.host).etcdDataDir}/member there, and run it again`,
    );
  }
  await ctx.confirm({
    command: 'pgha up (etcd repair)',
    changes: foreign.map((f) => ({ host: f.probe.host.name, action: 'change', summary: `${f.reason}: ${what(f)}` })),
    lost: foreign.map((f) => `${f.probe.host.name}: its etcd data (it belongs to no member of this cluster)`),
  });
  for (const f of foreign) {
    const h = f.probe.host;
    const via = ctx.transports.get(f.via.host.name)!;
    const t = ctx.transports.get(h.name);
    if (!t) throw new UserError(`${h.name} is not connected: its etcd data cannot be repaired`, 'bring it back first');
    const ep = localClient(ctx.inventory, f.via.host);
    const dir = etcdSettings(ctx.inventory, h).etcdDataDir;
    const steps: [string, typeof t, string][] = [
      ...(f.listed
        ? [[f.via.host.name, via, etcdctl(ep, ['member', 'remove', f.listed.id])] as [string, typeof t, string]]
        : []),
      [
        h.name,
        t,
        `systemctl stop etcd.service\nif test -d ${shq(dir)}; then find ${shq(dir)} -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +; fi`,
      ],
      [f.via.host.name, via, etcdctl(ep, ['member', 'add', h.name, `--peer-urls=${newPeerUrl(ctx, f.probe)}`])],
    ];
    ctx.log(`${h.name}: ${f.reason}: repairing (${what(f)})`);
    for (const [where, tr, script] of steps) {
      const r = await tr.exec(script, { timeoutMs: 60_000 });
      if (r.code !== 0) throw new RemoteError(where, `etcd repair of ${h.name} failed`, r.stderr.trim());
    }
  }
}
