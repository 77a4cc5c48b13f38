// Optional Proxmox HA (provider.proxmox.ha): every VM becomes an HA resource (state started), with a node-affinity
// rule over the inventory's nodes and negative resource-affinity rules keeping the members of each role apart.
import { rolesOf, type Inventory, type ProxmoxSettings } from '../../inventory/types.js';
import { PveApiError, type PveClient } from './client.js';

export interface HaRule {
  rule: string;
  type: 'node-affinity' | 'resource-affinity';
  resources: string;
  nodes?: string;
  affinity?: 'negative';
}

export const sidOf = (vmid: number) => `vm:${vmid}`;
/** Rule ids: letters, digits and '_' only (HA rule ids are configuration ids). */
const ruleId = (inv: Pick<Inventory, 'cluster'>, what: string) => `pgha_${inv.cluster.replace(/-/g, '_')}_${what}`;

/** The rules pgha wants for the VMs it made (host → vmid). */
export function wantedRules(inv: Inventory, s: ProxmoxSettings, vmids: Map<string, number>): HaRule[] {
  const all = inv.hosts.flatMap((h) => (vmids.has(h.name) ? [sidOf(vmids.get(h.name)!)] : []));
  if (!all.length) return [];
  const rules: HaRule[] = [
    {
      rule: ruleId(inv, 'nodes'),
      type: 'node-affinity',
      resources: all.join(','),
      nodes: s.nodes.map((n) => n.name).join(','),
    },
  ];
  const seen = new Set<string>();
  for (const r of rolesOf(inv)) {
    const sids = inv.hosts
      .filter((h) => h.roles.includes(r) && vmids.has(h.name))
      .map((h) => sidOf(vmids.get(h.name)!));
    const key = sids.join(',');
    // Apart only where there are nodes enough for them; members of two roles at once get one rule.
    if (sids.length < 2 || sids.length > s.nodes.length || seen.has(key) || !s.spread) continue;
    seen.add(key);
    rules.push({ rule: ruleId(inv, r), type: 'resource-affinity', affinity: 'negative', resources: key });
  }
  return rules;
}

export interface HaState {
  resources: Set<string>;
  rules: Map<string, string>; // rule id → resources
}

export async function readHa(c: PveClient): Promise<HaState> {
  const res = (await c.retry('list HA resources', () => c.api.cluster.ha.resources.$get())) as { sid?: string }[];
  const rules = (await c.retry('list HA rules', () =>
    (c.api.cluster.ha as never as { rules: { $get(): Promise<unknown> } }).rules.$get(),
  )) as { rule?: string; resources?: string }[];
  return {
    resources: new Set(res.map((r) => String(r.sid))),
    rules: new Map(rules.map((r) => [String(r.rule), String(r.resources ?? '')])),
  };
}

/** Register the missing resources and rules. Returns what was done, one line each. */
export async function registerHa(
  c: PveClient,
  inv: Inventory,
  s: ProxmoxSettings,
  vmids: Map<string, number>,
  have: HaState,
  comment: (host: string) => string,
): Promise<string[]> {
  const done: string[] = [];
  for (const h of inv.hosts) {
    const vmid = vmids.get(h.name);
    if (vmid === undefined || have.resources.has(sidOf(vmid))) continue;
    await c.retry(`register VM ${vmid} with HA`, () =>
      c.api.cluster.ha.resources.$post({ sid: sidOf(vmid), state: 'started', comment: comment(h.name) } as never),
    );
    done.push(`${h.name}: VM ${vmid} is a Proxmox HA resource (state started)`);
  }
  const rulesApi = (c.api.cluster.ha as never as { rules: { $post(p: unknown): Promise<unknown> } }).rules;
  for (const r of wantedRules(inv, s, vmids)) {
    const cur = have.rules.get(r.rule);
    if (cur === undefined) {
      await c.retry(`create HA rule ${r.rule}`, () =>
        rulesApi.$post({ ...r, ...(r.type === 'node-affinity' ? { strict: false } : {}) }),
      );
      done.push(
        `HA rule ${r.rule} (${r.type}${r.affinity ? ` ${r.affinity}` : ''}): ${r.resources}${r.nodes ? ` on ${r.nodes}` : ''}`,
      );
    } else if (cur.split(',').sort().join(',') !== r.resources.split(',').sort().join(',')) {
      done.push(
        `HA rule ${r.rule} lists ${cur}, not ${r.resources}: left as is (edit it in Proxmox, Datacenter > HA > Affinity Rules)`,
      );
    }
  }
  return done;
}

/** Take a VM out of HA before it is stopped and deleted (an HA-managed VM would be started again). */
export async function unregisterHa(c: PveClient, vmid: number): Promise<void> {
  try {
    await c.retry(`remove VM ${vmid} from HA`, () => c.api.cluster.ha.resources.$(sidOf(vmid)).$delete());
  } catch (e) {
    if (!(e instanceof PveApiError && /no such resource|does not exist/.test(e.all))) throw e;
  }
}

/** Delete the inventory's rules that are left (after its VMs are gone; removing a resource may already have dropped them). */
export async function deleteRules(c: PveClient, inv: Inventory): Promise<string[]> {
  const have = await readHa(c);
  const ids = [...have.rules.keys()].filter(
    (id) => id === ruleId(inv, 'nodes') || rolesOf(inv).some((r: string) => id === ruleId(inv, r)),
  );
  const rulesApi = (c.api.cluster.ha as never as { rules: { $(id: string): { $delete(): Promise<unknown> } } }).rules;
  const done: string[] = [];
  for (const id of ids) {
    try {
      await c.retry(`delete HA rule ${id}`, () => rulesApi.$(id).$delete());
      done.push(id);
    } catch (e) {
      if (!(e instanceof PveApiError && /no such rule|does not exist/.test(e.all))) throw e;
    }
  }
  return done;
}

/** Plan side: existing VMs not registered yet (changes), and VMs HA could not move to another node (notes). */
export async function haPlan(
  c: PveClient,
  hosts: { host: string; vmid?: number; node: string; storage: string }[],
): Promise<{ state: HaState; changes: { host: string; action: 'change'; summary: string }[]; notes: string[] }> {
  const state = await readHa(c);
  const changes = hosts
    .filter((h) => h.vmid !== undefined && !state.resources.has(sidOf(h.vmid)))
    .map((h) => ({
      host: h.host,
      action: 'change' as const,
      summary: `register VM ${h.vmid} on ${h.node} as a Proxmox HA resource (state started)`,
    }));
  const notes: string[] = [];
  const shared = new Map<string, boolean>();
  for (const h of hosts) {
    const key = `${h.node}/${h.storage}`;
    if (!shared.has(key)) {
      const st = (await c
        .retry('storage status', () => c.api.nodes.$(h.node).storage.$(h.storage).status.$get())
        .catch(() => undefined)) as { shared?: unknown } | undefined;
      shared.set(key, Number(st?.shared ?? 0) === 1);
    }
  }
  for (const [key, ok] of shared) {
    if (ok) continue;
    const [node, storage] = key.split('/') as [string, string];
    const who = hosts.filter((h) => h.node === node && h.storage === storage).map((h) => h.host);
    notes.push(
      `HA: storage ${storage} on ${node} is not shared: Proxmox HA can restart ${who.join(', ')} on ${node} only, not recover ${who.length > 1 ? 'them' : 'it'} on another node (use shared storage for that)`,
    );
  }
  return { state, changes, notes };
}
