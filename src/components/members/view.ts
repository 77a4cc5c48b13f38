// What membership changes look at first, read-only: Patroni's members (GET /cluster), etcd's member list and the
// health of each etcd member, seen from the hosts that stay; and the members the inventory no longer names.
import { apiGetScript, patroniApi } from '../patroni/api.js';
import type { Host, Inventory } from '../../inventory/types.js';
import type { StepGroupContext, Transport } from '../../engine/types.js';
import { withRole } from '../common.js';
import { fetchCluster } from '../patroni/checks.js';
import type { PatroniCluster } from '../patroni/facts.js';
import { localClient, type EtcdClient } from '../etcd/tls.js';
import { etcdctl, parseEndpointHealth, parseMemberList, type EtcdMember, type EtcdMemberList } from '../etcd/facts.js';

export interface ClusterView {
  patroni?: PatroniCluster;
  /** The member list as a healthy etcd member (`etcdFrom`) sees it. */
  etcd?: EtcdMemberList;
  /** Names of the etcd members whose endpoint answers healthy. */
  etcdHealthy: string[];
  /** The inventory etcd host membership changes go through (its local endpoint answered). */
  etcdFrom?: Host;
}

const SPLIT = '---pgha-split---';

/** How pgha's etcdctl calls on an etcd host reach its member (https with a client certificate with TLS). */
export function localEtcdClient(inv: Inventory, h: Host): EtcdClient {
  return localClient(inv, h);
}

/** What etcdThrough reads on an etcd host. */
export function etcdThroughScript(inv: Inventory, h: Host): string {
  const ep = localEtcdClient(inv, h);
  return (
    `${etcdctl(ep, ['member', 'list', '-w', 'json'])} 2>/dev/null; echo ${SPLIT}; ` +
    `${etcdctl(ep, ['endpoint', 'health', '--cluster', '-w', 'json'])} 2>/dev/null; true`
  );
}

/** What readView reads: GET /cluster on each postgres host, the etcd view through each etcd host. */
export function viewReads(inv: Inventory): { host: string; script: string }[] {
  return [
    ...withRole(inv.hosts, 'postgres').map((h) => ({
      host: h.name,
      script: apiGetScript(patroniApi(inv, h), '/cluster'),
    })),
    ...withRole(inv.hosts, 'etcd').map((h) => ({ host: h.name, script: etcdThroughScript(inv, h) })),
  ];
}

/** The member list and cluster health through one member's local endpoint (undefined: it does not answer). */
export async function etcdThrough(
  inv: Inventory,
  h: Host,
  t: Transport,
): Promise<{ list: EtcdMemberList; healthy: string[] } | undefined> {
  const r = await t.exec(etcdThroughScript(inv, h), { timeoutMs: 30_000 });
  const [ml = '', he = ''] = r.stdout.split(SPLIT);
  const list = parseMemberList(ml);
  if (!list) return undefined;
  const healthy = parseEndpointHealth(he)
    .filter((x) => x.health)
    .map((x) => list.members.find((m) => m.clientURLs.includes(x.endpoint))?.name)
    .filter((n): n is string => Boolean(n));
  return { list, healthy: [...new Set(healthy)].sort() };
}

/** Read the cluster through the connected hosts of `ctx.inventory` (those that stay), skipping `except`. */
export async function readView(ctx: StepGroupContext, except: string[] = []): Promise<ClusterView> {
  const inv = ctx.inventory;
  const view: ClusterView = { etcdHealthy: [] };
  const stay: Inventory = { ...inv, hosts: inv.hosts.filter((h) => !except.includes(h.name)) };
  view.patroni = (await fetchCluster({ ...ctx, inventory: stay }))?.cluster;
  for (const h of withRole(stay.hosts, 'etcd')) {
    const t = ctx.transports.get(h.name);
    if (!t) continue;
    const e = await etcdThrough(inv, h, t).catch(() => undefined);
    if (!e || !e.healthy.includes(h.name)) continue;
    view.etcd = e.list;
    view.etcdHealthy = e.healthy;
    view.etcdFrom = h;
    break;
  }
  return view;
}

/** A cluster member the inventory does not name (any more). */
export interface DroppedMember {
  name: string;
  /** Its address, from Patroni (`host`) or its etcd peer URL. */
  address?: string;
  patroni: boolean;
  etcd?: EtcdMember;
}

function hostOfUrl(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

/** Patroni and etcd members whose name is not an inventory host (etcd members added but not started have no name). */
export function droppedMembers(inv: Pick<Inventory, 'hosts'>, view: ClusterView): DroppedMember[] {
  const known = new Set(inv.hosts.map((h) => h.name));
  const out = new Map<string, DroppedMember>();
  for (const m of view.patroni?.members ?? []) {
    if (known.has(m.name)) continue;
    out.set(m.name, { name: m.name, address: m.host || undefined, patroni: true });
  }
  for (const m of view.etcd?.members ?? []) {
    if (!m.name || known.has(m.name)) continue;
    const prev = out.get(m.name);
    const address = prev?.address ?? hostOfUrl(m.peerURLs[0] ?? '');
    out.set(m.name, { name: m.name, address, patroni: prev?.patroni ?? false, etcd: m });
  }
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** The plan/up lines naming dropped members. */
export function droppedLines(dropped: DroppedMember[], prune: boolean, check: boolean): string[] {
  if (!dropped.length) return [];
  const what = (d: DroppedMember) =>
    `${d.name}${d.address ? ` (${d.address})` : ''}: ${[
      d.patroni ? 'Patroni member' : '',
      d.etcd ? `etcd member ${d.etcd.id}` : '',
    ]
      .filter(Boolean)
      .join(', ')}`;
  const head = prune
    ? check
      ? 'would remove members that are not in the inventory any more (up --prune):'
      : 'removing members that are not in the inventory any more (--prune):'
    : 'members that are not in the inventory any more (pgha up --prune removes them; plain up leaves them):';
  const verb = !prune ? '' : check ? 'would remove ' : 'remove ';
  return [head, ...dropped.map((d) => `  ${verb}${what(d)}`)];
}
