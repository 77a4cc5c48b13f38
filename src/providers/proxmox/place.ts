// Which node each VM goes to, and why: existing VMs stay where they are, pinned hosts go to their node, the others
// are spread so that the members of one role (etcd, postgres, haproxy) sit on different nodes. Then how a VM is made
// on a node: which template, cloned on which node (with a target node when the template lives elsewhere on shared
// storage), on which storage and bridge.
import { rolesOf, type Inventory, type ProxmoxSettings, type Role } from '../../inventory/types.js';
import type { VmEntry } from './vm.js';

export interface Placement {
  node: string;
  why: string;
}

/** How a VM is made on `node`. */
export interface NodePlan {
  node: string;
  /** Index in provider.proxmox.nodes (for the inventory line of its settings), -1 when not listed. */
  index: number;
  /** The template's vmid, or undefined when it could not be found (preflight reports it). */
  template?: number;
  /** How the template was asked for (vmid or name). */
  templateRef: number | string;
  /** Node that holds the template: the clone runs there. */
  cloneNode: string;
  /** Set when the VM is cloned onto another node than the template's (shared storage). */
  target?: string;
  storage: string;
  bridge: string;
}

export interface PlaceResult {
  placed: Map<string, Placement>;
  /** Why pgha refuses (an offline node breaks the spread, a pin to an offline node). */
  problems: { pointer: string; message: string; hint: string }[];
  notes: string[];
}

const roleList = (roles: Role[]) => roles.join('/');

/** Place every host of the inventory. `existing` maps host → node of its VM; `online` the nodes that answer. */
export function place(
  inv: Inventory,
  s: ProxmoxSettings,
  existing: Map<string, string>,
  online: Set<string>,
): PlaceResult {
  const allowed = s.nodes.map((n) => n.name);
  const usable = allowed.filter((n) => online.has(n));
  const offline = allowed.filter((n) => !online.has(n));
  const placed = new Map<string, Placement>();
  const problems: PlaceResult['problems'] = [];
  const notes: string[] = [];

  for (const h of inv.hosts) {
    const at = existing.get(h.name);
    if (at) placed.set(h.name, { node: at, why: 'the VM exists there' });
    else if (h.proxmox?.node) {
      placed.set(h.name, { node: h.proxmox.node, why: `pinned by hosts.${h.name}.proxmox.node` });
      if (!online.has(h.proxmox.node)) {
        problems.push({
          pointer: `/hosts/${h.name}/proxmox/node`,
          message: `host ${h.name} is pinned to node ${h.proxmox.node}, which is offline`,
          hint: `bring ${h.proxmox.node} back, or pin ${h.name} to another node (or remove the pin)`,
        });
      }
    }
  }

  // A role whose members cannot be apart any more because a node is down: refuse rather than stack them.
  const toCreate = inv.hosts.filter((h) => !existing.has(h.name));
  if (s.spread && offline.length) {
    for (const r of rolesOf(inv)) {
      const members = inv.hosts.filter((h) => h.roles.includes(r));
      const want = Math.min(members.length, allowed.length);
      const can = Math.min(members.length, usable.length);
      if (can < want && members.some((m) => toCreate.includes(m))) {
        problems.push({
          pointer: '/provider/proxmox/nodes',
          message: `node${offline.length > 1 ? 's' : ''} ${offline.join(', ')} offline: the ${members.length} ${r} members need ${want} different nodes and only ${usable.join(', ') || 'none'} ${usable.length === 1 ? 'is' : 'are'} online`,
          hint: `bring ${offline.join(', ')} back, add another node to provider.proxmox.nodes, or set provider.proxmox.spread: false to accept members of one role on the same node`,
        });
      }
    }
  }
  if (!usable.length && toCreate.some((h) => !placed.has(h.name))) {
    problems.push({
      pointer: '/provider/proxmox/nodes',
      message: `no node pgha may use is online (${allowed.join(', ')})`,
      hint: 'bring a node back, or list an online node in provider.proxmox.nodes',
    });
  }
  if (offline.length && toCreate.length && !problems.some((p) => p.pointer === '/provider/proxmox/nodes')) {
    notes.push(
      `node${offline.length > 1 ? 's' : ''} ${offline.join(', ')} offline: skipped (the spread holds on ${usable.join(', ')})`,
    );
  }

  const count = (node: string, role?: Role) =>
    [...placed].filter(
      ([name, p]) => p.node === node && (!role || inv.hosts.find((x) => x.name === name)?.roles.includes(role)),
    ).length;
  for (const h of toCreate) {
    if (placed.has(h.name)) continue;
    const candidates = usable.length ? usable : allowed;
    const score = (n: string) => [
      s.spread ? Math.max(0, ...h.roles.map((r) => count(n, r))) : 0,
      count(n),
      allowed.indexOf(n),
    ];
    const best = [...candidates].sort((a, b) => {
      const [x, y] = [score(a), score(b)];
      return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
    })[0]!;
    const mates = [...placed]
      .filter(([name]) => inv.hosts.find((x) => x.name === name)?.roles.some((r) => h.roles.includes(r)))
      .map(([name, p]) => `${name} on ${p.node}`);
    const sameHere = score(best)[0]!;
    let why: string;
    if (!s.spread) why = `fewest VMs of this inventory there (spread: false)`;
    else if (candidates.length === 1) why = `the only ${usable.length ? 'usable ' : ''}node`;
    else if (sameHere === 0)
      why = `no other ${roleList(h.roles)} member there${mates.length ? ` (${mates.join(', ')})` : ''}`;
    else why = `more ${roleList(h.roles)} members than nodes: the node with the fewest (${mates.join(', ')})`;
    placed.set(h.name, { node: best, why });
  }
  return { placed, problems, notes };
}

/** How VMs are made on each node: its template (found in the cluster by vmid or name), storage and bridge. */
export function nodePlan(s: ProxmoxSettings, node: string, vms: VmEntry[]): NodePlan {
  const index = s.nodes.findIndex((n) => n.name === node);
  const entry = s.nodes[index] ?? { name: node };
  const ref = entry.template ?? s.template;
  const templates = vms.filter((v) => v.template);
  const found =
    typeof ref === 'number'
      ? vms.find((v) => v.vmid === ref)
      : (templates.find((v) => v.name === ref && v.node === node) ?? templates.find((v) => v.name === ref));
  const plan: NodePlan = {
    node,
    index,
    templateRef: ref,
    storage: entry.storage ?? s.storage,
    bridge: entry.bridge ?? s.bridge,
    cloneNode: node,
  };
  if (typeof ref === 'number') plan.template = ref;
  if (found) {
    plan.template = found.vmid;
    plan.cloneNode = found.node;
    if (found.node !== node) plan.target = node;
  }
  return plan;
}
