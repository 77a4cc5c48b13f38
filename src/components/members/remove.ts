// Taking one member out of the cluster, in an order that keeps it serving: HAProxy first (the balancers stop
// sending clients there, one reload at a time), then Patroni stops there and its member key goes from the DCS
// (only that key: never the cluster's), then, for an etcd member, `etcdctl member remove` while its etcd still
// runs, and only then its etcd stops and its data dir is wiped (a removed member that restarts with its old data
// is refused by the others, and must never rejoin on its own). The machine goes last, when the provider makes them.
import type { Host, Inventory } from '../../inventory/types.js';
import type { Transport } from '../../engine/types.js';
import { shq } from '../../engine/quote.js';
import { RemoteError, UserError } from '../../util/errors.js';
import { LEADER_ROLES, parseCluster } from '../patroni/facts.js';
import { waitFor } from '../../engine/wait.js';
import { errText } from '../common.js';
import { patroniSettings } from '../patroni/settings.js';
import { PATRONI_CONFIG } from '../patroni/stuck.js';
import { etcdSettings } from '../etcd/settings.js';
import { etcdctl, type EtcdMember } from '../etcd/facts.js';
import { localEtcdClient, type ClusterView } from './view.js';
import { apiGet, type PatroniApi } from '../patroni/api.js';

export interface RemovalTarget {
  name: string;
  address?: string;
  /** Its Patroni member name is in GET /cluster, or it is a postgres host of the inventory. */
  patroni: boolean;
  /** Its entry in etcd's member list (by name or peer URL). */
  etcd?: EtcdMember;
  /** Its etcd data dir (wiped once it is out of the member list). */
  etcdDataDir: string;
  /** Scope and namespace of the Patroni cluster (its member key). */
  memberKey: string;
}

/** Patroni's key of one member: /<namespace>/<scope>/members/<name> (Patroni collapses repeated slashes). */
export function memberKey(namespace: string, scope: string, name: string): string {
  return `/${namespace}/${scope}/members/${name}`.replace(/\/+/g, '/');
}

/** The inventory without these hosts (and without them in its groups). */
export function withoutHosts(inv: Inventory, names: string[]): Inventory {
  const gone = new Set(names);
  return {
    ...inv,
    hosts: inv.hosts.filter((h) => !gone.has(h.name)),
    groups: Object.fromEntries(Object.entries(inv.groups).map(([g, hs]) => [g, hs.filter((n) => !gone.has(n))])),
  };
}

/** The target as an inventory host describes it, with its etcd entry from the view. */
export function targetOf(inv: Inventory, h: Host, view: ClusterView): RemovalTarget {
  const es = etcdSettings(inv, h);
  const ps = patroniSettings(inv, h);
  const peer = `http://${h.address}:${es.etcdPeerPort}`;
  const etcd = view.etcd?.members.find((m) => m.name === h.name || m.peerURLs.includes(peer));
  const inPatroni = view.patroni?.members.some((m) => m.name === h.name) ?? false;
  return {
    name: h.name,
    address: h.address,
    patroni: inPatroni || h.roles.includes('postgres'),
    etcd,
    etcdDataDir: es.etcdDataDir,
    memberKey: memberKey(ps.namespace, ps.scope, h.name),
  };
}

/** etcd's quorum for n members. */
export const quorum = (n: number) => Math.floor(n / 2) + 1;

/**
 * Refusals, before anything changes (UserError, exit 2): the leader, a removal etcd could not take (no quorum for
 * the change now, or none left after it), a cluster nobody can be asked about. Returns notes for the confirmation
 * (an even etcd member count left behind).
 */
export function checkRemoval(view: ClusterView, target: RemovalTarget): string[] {
  const notes: string[] = [];
  if (target.patroni) {
    if (!view.patroni)
      throw new UserError(
        `pgha remove ${target.name}: no Patroni member of the hosts that stay answers GET /cluster, so it cannot tell whether ${target.name} is the leader; nothing was changed`,
        'bring the cluster back first (pgha status shows what is down)',
      );
    const me = view.patroni.members.find((m) => m.name === target.name);
    if (me && LEADER_ROLES.includes(me.role))
      throw new UserError(
        `pgha remove ${target.name}: ${target.name} is the current leader; nothing was changed`,
        'switch over first: `pgha switchover` (then remove it as a replica)',
      );
  }
  if (target.etcd) {
    if (!view.etcd)
      throw new UserError(
        `pgha remove ${target.name}: no etcd member of the hosts that stay answers healthy, so the removal cannot be made safely; nothing was changed`,
        'bring etcd back first (pgha status shows its health)',
      );
    const n = view.etcd.members.length;
    const healthy = view.etcdHealthy.length;
    const targetHealthy = view.etcdHealthy.includes(target.name) ? 1 : 0;
    const left = healthy - targetHealthy;
    if (n - 1 < 1 || healthy < quorum(n) || left < quorum(n - 1))
      throw new UserError(
        `pgha remove ${target.name}: removing it would break etcd's quorum: ${healthy} of ${n} members are healthy ` +
          `(${view.etcdHealthy.join(', ') || 'none'}), and ${n - 1} members need ${n - 1 >= 1 ? quorum(n - 1) : 1} healthy ones; nothing was changed`,
        'bring the other etcd members back (or add one) first',
      );
    if ((n - 1) % 2 === 0)
      notes.push(
        `etcd is left with ${n - 1} members, an even count: it still needs ${quorum(n - 1)} of them and survives ` +
          `no more failures than ${n - 2} members would; add an etcd host (or remove another) to make it odd`,
      );
  }
  return notes;
}

export type ActionId =
  'haproxy' | 'patroni-nosync' | 'patroni-stop' | 'patroni-key' | 'etcd-member' | 'etcd-stop' | 'machine';

export interface RemovalAction {
  id: ActionId;
  /** Where it runs (a host name, or "balancers"). */
  where: string;
  summary: string;
}

/** The ordered actions of one removal (what the confirmation lists, and what runs). */
export function removalActions(
  view: ClusterView,
  target: RemovalTarget,
  o: { balancers: string[]; reachable: boolean; deletesMachine: boolean },
): RemovalAction[] {
  const out: RemovalAction[] = [];
  const from = view.etcdFrom?.name ?? '?';
  if (target.patroni && o.balancers.length)
    out.push({
      id: 'haproxy',
      where: o.balancers.join(', '),
      summary: `take ${target.name} out of HAProxy's backends (reload one balancer at a time: ${o.balancers.join(', ')})`,
    });
  // A synchronous standby first hands its role over (tag nosync, the leader picks another): stopped as it is,
  // commits would wait for it until the leader's next loop.
  const role = view.patroni?.members.find((m) => m.name === target.name)?.role;
  if (target.patroni && o.reachable && role === 'sync_standby')
    out.push({
      id: 'patroni-nosync',
      where: target.name,
      summary: 'tag it nosync and wait until the leader has picked another synchronous standby',
    });
  if (target.patroni && o.reachable)
    out.push({ id: 'patroni-stop', where: target.name, summary: 'stop and disable Patroni (and its PostgreSQL)' });
  if (target.patroni && view.etcdFrom)
    out.push({ id: 'patroni-key', where: from, summary: `delete Patroni's member key ${target.memberKey}` });
  if (target.etcd)
    out.push({ id: 'etcd-member', where: from, summary: `etcdctl member remove ${target.etcd.id} (${target.name})` });
  if (target.etcd && o.reachable)
    out.push({
      id: 'etcd-stop',
      where: target.name,
      summary: `stop and disable etcd, wipe ${target.etcdDataDir} (it can never rejoin with old data)`,
    });
  if (o.deletesMachine) out.push({ id: 'machine', where: target.name, summary: 'delete the machine and its disk' });
  return out;
}

/** What each action does; `reloadBalancers` and `deleteMachine` come from the caller (engine, provider). */
export interface RemovalDeps {
  inventory: Inventory;
  transports: Map<string, Transport>;
  /** The target's transport, when it answers. */
  target?: Transport;
  reloadBalancers(): Promise<void>;
  deleteMachine?(): Promise<void>;
  /** The target's Patroni REST API (default http://127.0.0.1:8008) and how long a synchronous standby may take to hand over. */
  api?: PatroniApi;
  syncTimeoutMs?: number;
  /** Patroni's config file on the target (default /etc/patroni/config.yml). */
  patroniConfig?: string;
  log(line: string): void;
}

async function run(t: Transport | undefined, where: string, what: string, script: string): Promise<void> {
  if (!t) throw new RemoteError(where, `${what}: not connected`, '');
  const r = await t.exec(script, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new RemoteError(where, `${what} failed`, `${r.stderr.trim()}\n${r.stdout.trim()}`.trim());
}

/** Tag the member nosync in its config and have Patroni read it again (SIGHUP to its main process, as a reload). */
export function nosyncScript(config: string = PATRONI_CONFIG): string {
  return [
    `sed -i 's/^  nosync: false$/  nosync: true/' ${shq(config)}`,
    `grep -q '^  nosync: true$' ${shq(config)}`,
    'systemctl kill --kill-who=main --signal=HUP patroni.service',
  ].join('\n');
}

/** Until GET /cluster shows `name` no longer a synchronous standby (another one, or none left to pick). */
async function waitNotSync(t: Transport, name: string, api: PatroniApi, timeoutMs: number): Promise<void> {
  const res = await waitFor(
    async () => {
      const r = await apiGet(t, api, '/cluster');
      if (r.status !== 200) return { ok: false, value: `GET /cluster answered ${r.status || 'nothing'}` };
      const c = parseCluster(r.body);
      const me = c.members.find((m) => m.name === name);
      const others = c.members.filter((m) => m.name !== name && !LEADER_ROLES.includes(m.role));
      const handed = others.some((m) => m.role === 'sync_standby') || others.every((m) => m.state !== 'running');
      return { ok: me?.role !== 'sync_standby' && handed, value: `${name} is ${me?.role ?? 'gone'}` };
    },
    { timeoutMs, intervalMs: 500, what: 'another synchronous standby' },
  );
  if (!res.ok)
    throw new RemoteError(
      name,
      `the leader did not pick another synchronous standby within ${timeoutMs / 1000} s; nothing else was changed (${name} is tagged nosync)`,
      errText(res.value),
    );
}

export const STOP_PATRONI =
  'if systemctl cat patroni.service >/dev/null 2>&1; then systemctl disable --now patroni.service; fi';

export function stopEtcdScript(dataDir: string): string {
  return [
    'if systemctl cat etcd.service >/dev/null 2>&1; then systemctl disable --now etcd.service; fi',
    `if test -d ${shq(dataDir)}; then find ${shq(dataDir)} -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +; fi`,
  ].join('\n');
}

/** Runs the actions in order; the first failure stops the removal (what ran is said in the log). */
export async function performRemoval(
  actions: RemovalAction[],
  view: ClusterView,
  target: RemovalTarget,
  d: RemovalDeps,
): Promise<void> {
  const fromT = view.etcdFrom ? d.transports.get(view.etcdFrom.name) : undefined;
  const ep = view.etcdFrom ? localEtcdClient(d.inventory, view.etcdFrom) : { endpoints: [] };
  for (const a of actions) {
    d.log(`${a.where}: ${a.summary}`);
    switch (a.id) {
      case 'haproxy':
        await d.reloadBalancers();
        break;
      case 'patroni-nosync':
        await run(d.target, target.name, 'tag nosync', nosyncScript(d.patroniConfig));
        await waitNotSync(
          d.target!,
          target.name,
          d.api ?? { address: '127.0.0.1', port: 8008 },
          d.syncTimeoutMs ?? 60_000,
        );
        break;
      case 'patroni-stop':
        await run(d.target, target.name, 'stop Patroni', STOP_PATRONI);
        break;
      case 'patroni-key':
        await run(fromT, a.where, 'delete the member key', etcdctl(ep, ['del', target.memberKey]));
        break;
      case 'etcd-member':
        await run(fromT, a.where, 'etcd member remove', etcdctl(ep, ['member', 'remove', target.etcd!.id]));
        break;
      case 'etcd-stop':
        await run(d.target, target.name, 'stop etcd and wipe its data', stopEtcdScript(target.etcdDataDir));
        break;
      case 'machine':
        await d.deleteMachine?.();
        break;
    }
  }
}
