// Everything pgha can read is checked before the first request that changes something: the token's privileges on
// every path it will touch, the template, the storage, the bridge, fixed vmids, SSH keys. All problems together.
import type { Inventory, ProxmoxSettings } from '../../inventory/types.js';
import { PveApiError, type PveClient } from './client.js';
import { privilegeHint } from './explain.js';
import { locator, Problems, type Locator } from './locate.js';
import type { NodePlan } from './place.js';
import { propertyString, type VmSpec } from './spec.js';
import { parsePublicKey, publicOfPrivate } from './sshkeys.js';
import { getConfig, isMissing, type VmEntry } from './vm.js';

export interface PreflightInput {
  create: VmSpec[];
  /** Existing VMs pgha will start. */
  start: VmEntry[];
  /** Every VM the token sees. */
  vms: VmEntry[];
  /** How VMs are made on each node that gets a new VM. */
  plans: NodePlan[];
  /** Refusals of the placement (offline nodes). */
  placement: { pointer: string; message: string; hint: string }[];
  /** Every node of the Proxmox cluster (undefined: not read). */
  clusterNodes?: string[];
  /** The nodes that answer (undefined: all). */
  online?: Set<string>;
}

/** Privileges needed on a path: every entry must hold; an array entry means any one of them. */
type Need = (string | string[])[];

const T = '/provider/proxmox';

/** The nodes of the Proxmox cluster and which of them are online (GET /nodes, readable by every token). */
export async function onlineNodes(c: PveClient): Promise<{ online: Set<string>; known: string[] }> {
  const list = (await c.retry('list nodes', () => c.api.nodes.$get())) as { node?: string; status?: string }[];
  return {
    online: new Set(list.filter((n) => n.status === 'online').map((n) => String(n.node))),
    known: list.map((n) => String(n.node)),
  };
}

export async function preflight(
  c: PveClient,
  s: ProxmoxSettings,
  inv: Inventory,
  input: PreflightInput,
  log: (l: string) => void,
): Promise<void> {
  const loc = locator(inv);
  const p = new Problems(loc);
  const needs = new Map<string, Need>();
  const need = (path: string, ...privs: Need) => needs.set(path, [...(needs.get(path) ?? []), ...privs]);
  for (const x of input.placement) p.add(x.pointer, x.message, x.hint);
  if (input.clusterNodes) {
    s.nodes.forEach((n, i) => {
      if (!input.clusterNodes!.includes(n.name)) {
        p.add(
          s.nodes.length > 1 || loc.has(`${T}/nodes`) ? `${T}/nodes/${i}` : `${T}/api/node`,
          `node ${n.name} is not a node of this Proxmox cluster (nodes: ${input.clusterNodes!.join(', ')})`,
          'name the nodes as pvecm nodes shows them',
        );
      }
    });
  }

  const byNode = new Map(input.plans.map((x) => [x.node, x]));
  const templateBridges = new Map<string, string | undefined>();
  if (input.create.length) {
    const nextId = Number(await c.retry('next free VM id', () => c.api.cluster.nextid.$get()));
    for (const plan of input.plans) {
      if (input.online && !input.online.has(plan.node)) continue; // the placement said why
      if (input.online && !input.online.has(plan.cloneNode)) {
        p.add(
          templateAt(s, plan, loc),
          `the template ${plan.templateRef} for node ${plan.node} lives on node ${plan.cloneNode}, which is offline`,
          `bring ${plan.cloneNode} back, or give ${plan.node} a template of its own (provider.proxmox.nodes)`,
        );
        continue;
      }
      if (plan.template === undefined) {
        p.add(
          templateAt(s, plan, loc),
          `no template named ${plan.templateRef} on node ${plan.node} or elsewhere in the cluster`,
          'make it (README, Proxmox VE: qm create … && qm template <id>) or name an existing template',
        );
        continue;
      }
      const key = `${plan.cloneNode}/${plan.template}`;
      if (!templateBridges.has(key)) templateBridges.set(key, await checkTemplate(c, s, plan, input.vms, p, loc));
      await checkStorage(c, s, plan, p, loc);
      need(`/vms/${plan.template}`, 'VM.Clone');
      need(`/storage/${plan.storage}`, 'Datastore.AllocateSpace');
      const tb = templateBridges.get(key);
      for (const b of new Set([plan.bridge, tb ?? plan.bridge])) need(`/sdn/zones/localnetwork/${b}`, 'SDN.Use');
    }
    for (const spec of input.create) {
      const plan = byNode.get(spec.node ?? s.api.node);
      const path = `/vms/${spec.vmid ?? nextId}`;
      need(
        path,
        'VM.Allocate',
        'VM.Audit',
        'VM.Config.Options',
        'VM.Config.CPU',
        'VM.Config.Memory',
        'VM.Config.Disk',
        'VM.PowerMgmt',
        ['VM.Config.Cloudinit', 'VM.Config.Network'],
      );
      const tb = plan ? templateBridges.get(`${plan.cloneNode}/${plan.template}`) : undefined;
      if (plan && tb !== undefined && tb !== plan.bridge) need(path, 'VM.Config.Network');
      if (spec.dhcp) need(path, ['VM.GuestAgent.Audit', 'VM.GuestAgent.Unrestricted']);
      if (spec.vmid !== undefined) await checkVmidFree(c, spec, input.vms, p, loc);
      checkKeys(s, spec, p, loc, log);
    }
  }
  for (const vm of input.start) need(`/vms/${vm.vmid}`, 'VM.PowerMgmt');
  if (s.ha) need('/', 'Sys.Audit', 'Sys.Console'); // HA resources and rules (provider.proxmox.ha)
  const sdnOk = await checkPrivileges(c, s, needs, p);
  for (const plan of input.plans)
    if (!input.online || input.online.has(plan.node)) await checkBridge(c, s, plan, sdnOk, p, loc);
  if (p.list.length) log(`proxmox: ${p.list.length} problem(s) found before any change`);
  p.throwIfAny(inv.file);
}

const nodeField = (s: ProxmoxSettings, plan: NodePlan, field: 'template' | 'storage' | 'bridge', loc: Locator) =>
  loc.first(...(plan.index >= 0 ? [`${T}/nodes/${plan.index}/${field}`] : []), `${T}/${field}`);
const templateAt = (s: ProxmoxSettings, plan: NodePlan, loc: Locator) => nodeField(s, plan, 'template', loc);

/** The template exists on its node, is a template, has a cloud-init drive, and (cloned to another node) sits on shared storage. Returns its net0 bridge. */
async function checkTemplate(
  c: PveClient,
  s: ProxmoxSettings,
  plan: NodePlan,
  vms: VmEntry[],
  p: Problems,
  loc: Locator,
): Promise<string | undefined> {
  const at = templateAt(s, plan, loc);
  const tpl = plan.template!;
  const node = plan.cloneNode;
  let cfg: Record<string, unknown>;
  try {
    cfg = await getConfig(c, node, tpl);
  } catch (e) {
    if (isMissing(e)) {
      const elsewhere = vms.find((v) => v.vmid === tpl)?.node;
      p.add(
        at,
        `the template VM ${tpl} does not exist on node ${node}${elsewhere ? ` (it is on node ${elsewhere})` : ''}`,
        elsewhere
          ? `set provider.proxmox.api.node: ${elsewhere}, or make a template on ${node}`
          : 'make a cloud-init template (README, Proxmox VE: qm create … && qm template <id>) and set provider.proxmox.template to its id',
      );
      return undefined;
    }
    if (e instanceof PveApiError && e.status === 403) {
      p.add(
        `${T}/api/token_id`,
        `the API token ${s.api.tokenId} lacks VM.Audit on /vms/${tpl}: the template cannot be read`,
        privilegeHint(s.api.tokenId, `/vms/${tpl}`, 'VM.Audit'),
      );
      return undefined;
    }
    throw e;
  }
  if (Number(cfg['template'] ?? 0) !== 1) {
    p.add(
      at,
      `VM ${tpl} (${String(cfg['name'] ?? '?')}) on ${node} is not a template`,
      `turn it into one with: qm template ${tpl}, or set provider.proxmox.template`,
    );
  }
  if (!Object.values(cfg).some((v) => typeof v === 'string' && /cloudinit/.test(v))) {
    p.add(at, `the template ${tpl} has no cloud-init drive`, `add one: qm set ${tpl} --ide2 ${plan.storage}:cloudinit`);
  }
  if (plan.target) {
    const vols = Object.entries(cfg).filter(
      ([k, v]) =>
        /^(scsi|virtio|sata|ide)\d+$/.test(k) &&
        typeof v === 'string' &&
        (!/media=cdrom/.test(v) || /cloudinit/.test(v)),
    );
    const local: string[] = [];
    for (const sid of new Set(vols.map(([, v]) => String(v).split(':')[0]!))) {
      const st = await storageStatus(c, node, sid).catch(() => undefined);
      if (!st || !Number(st.shared ?? 0)) local.push(sid);
    }
    if (local.length) {
      p.add(
        at,
        `the template ${tpl} on ${node} has disks on storage that is not shared (${local.join(', ')}): it cannot be cloned to node ${plan.target}`,
        `move the template's disks (cloud-init drive included) to shared storage, or give ${plan.target} a template of its own: nodes: [{name: ${plan.target}, template: <vmid or name>}]`,
      );
    }
  }
  return propertyString(cfg['net0'])['bridge'];
}

type StorageStatus = { active?: unknown; enabled?: unknown; content?: unknown; shared?: unknown };
const storageStatus = (c: PveClient, node: string, sid: string) =>
  c.retry('storage status', () => c.api.nodes.$(node).storage.$(sid).status.$get()) as Promise<StorageStatus>;

async function checkStorage(
  c: PveClient,
  s: ProxmoxSettings,
  plan: NodePlan,
  p: Problems,
  loc: Locator,
): Promise<void> {
  const at = nodeField(s, plan, 'storage', loc);
  const { node, storage } = plan;
  const hint = `set provider.proxmox.storage (or the node's storage in provider.proxmox.nodes) to a storage enabled on node ${node} that holds disk images (pvesm status --content images)`;
  let st: StorageStatus;
  try {
    st = await storageStatus(c, node, storage);
  } catch (e) {
    if (e instanceof PveApiError && e.status === 403) {
      return p.add(
        `${T}/api/token_id`,
        `the API token ${s.api.tokenId} lacks Datastore.AllocateSpace on /storage/${storage}`,
        privilegeHint(s.api.tokenId, `/storage/${storage}`, 'Datastore.AllocateSpace'),
      );
    }
    if (e instanceof PveApiError && (e.status === 400 || /does not exist|not available/.test(e.all))) {
      return p.add(at, `storage '${storage}' is not available on node '${node}'`, hint);
    }
    throw e;
  }
  if (st.enabled !== undefined && !Number(st.enabled)) p.add(at, `storage '${storage}' is disabled`, hint);
  else if (!Number(st.active ?? 0))
    p.add(at, `storage '${storage}' is not active on node '${node}'`, 'check it on the node: pvesm status');
  const content = String(st.content ?? '').split(',');
  if (!content.includes('images'))
    p.add(at, `storage '${storage}' does not hold disk images (content: ${content.join(',') || 'none'})`, hint);
  if (plan.target && !Number(st.shared ?? 0)) {
    p.add(
      at,
      `storage '${storage}' is not shared: a clone from ${plan.cloneNode} to ${node} needs shared storage`,
      `use a shared storage for ${node}, or give ${node} a template of its own (provider.proxmox.nodes)`,
    );
  }
}

async function checkBridge(
  c: PveClient,
  s: ProxmoxSettings,
  plan: NodePlan,
  visible: boolean,
  p: Problems,
  loc: Locator,
): Promise<void> {
  if (!visible) return; // the missing SDN.Use is reported; the bridge list would hide it anyway
  const { node, bridge } = plan;
  const list = (await c.retry('list bridges', () => c.api.nodes.$(node).network.$get({ type: 'any_bridge' }))) as {
    iface?: string;
  }[];
  const names = list.map((b) => String(b.iface ?? ''));
  if (!names.includes(bridge)) {
    p.add(
      nodeField(s, plan, 'bridge', loc),
      `bridge ${bridge} does not exist on node ${node}${names.length ? ` (bridges there: ${names.join(', ')})` : ''}`,
      `set provider.proxmox.bridge (or the node's bridge in provider.proxmox.nodes) to a bridge of node ${node} (ip -br link show type bridge on the node)`,
    );
  }
}

async function checkVmidFree(c: PveClient, spec: VmSpec, vms: VmEntry[], p: Problems, loc: Locator): Promise<void> {
  try {
    await c.retry('check VM id', () => c.api.cluster.nextid.$get({ vmid: spec.vmid }));
  } catch (e) {
    if (!(e instanceof PveApiError) || !/already exists/.test(e.all)) throw e;
    const taken = vms.find((v) => v.vmid === spec.vmid);
    const by = taken
      ? `${taken.template ? 'template' : 'VM'} '${taken.name ?? '?'}' on ${taken.node}`
      : 'a VM this token cannot see';
    p.add(
      loc.first(`/hosts/${spec.name}/proxmox/vmid`),
      `the VM id ${spec.vmid} from the inventory is already used by ${by}`,
      `pick a free id (pvesh get /cluster/nextid), or remove the vmid to let pgha allocate one`,
    );
  }
}

function checkKeys(s: ProxmoxSettings, spec: VmSpec, p: Problems, loc: Locator, log: (l: string) => void): void {
  const h = spec.host;
  const keyAt = loc.first(`/hosts/${h.name}/proxmox/ssh_public_key`, `${T}/defaults/ssh_public_key`);
  const fileAt = loc.first(`/hosts/${h.name}/ssh/key_file`, '/ssh/key_file');
  const fromPub = !(h.proxmox?.sshPublicKey ?? s.defaults.sshPublicKey) && spec.sshKeys.length > 0;
  const parsed = spec.sshKeys.map((k) => parsePublicKey(k));
  parsed.forEach((k, i) => {
    if (typeof k === 'string') {
      p.add(
        fromPub ? fileAt : keyAt,
        `${spec.sshKeys.length > 1 ? `key ${i + 1}: ` : ''}${fromPub ? `${h.ssh.keyFile}.pub: ` : ''}not a valid SSH public key: ${k}`,
        'paste the whole line of the .pub file (type, key data, comment), e.g. the output of ssh-keygen -y -f <private key>',
      );
    }
  });
  if (!h.ssh.keyFile) return;
  const priv = publicOfPrivate(h.ssh.keyFile);
  if (priv === 'encrypted')
    return log(`${h.name}: ${h.ssh.keyFile} is encrypted: pgha cannot check that it matches the public key`);
  if (typeof priv === 'string') {
    return p.add(
      fileAt,
      `private key ${h.ssh.keyFile}: ${priv}`,
      'set ssh.key_file to the private half of the ssh_public_key given to cloud-init (ssh-keygen -t ed25519 -f <file> makes a pair)',
    );
  }
  const good = parsed.filter((k): k is Exclude<typeof k, string> => typeof k !== 'string');
  if (good.length && !good.some((k) => k.type === priv.type && k.blob === priv.blob)) {
    p.add(
      fileAt,
      `private key ${h.ssh.keyFile} does not match ${spec.sshKeys.length > 1 ? 'any of the public keys' : 'the public key'} given to cloud-init for ${h.name} (its public key is ${priv.type} ${priv.blob.slice(0, 24)}…)`,
      `make them a pair: ssh_public_key: "$(ssh-keygen -y -f ${h.ssh.keyFile})", or point ssh.key_file at the private half of ssh_public_key`,
    );
  }
}

async function checkPrivileges(
  c: PveClient,
  s: ProxmoxSettings,
  needs: Map<string, Need>,
  p: Problems,
): Promise<boolean> {
  let sdnOk = true;
  for (const [path, privs] of needs) {
    const res = (await c.retry('read token permissions', () => c.api.access.permissions.$get({ path }))) as Record<
      string,
      Record<string, unknown>
    >;
    const have = new Set(Object.keys(res?.[path] ?? {}));
    const missing = [
      ...new Set(
        privs
          .filter((x) => (Array.isArray(x) ? !x.some((y) => have.has(y)) : !have.has(x)))
          .map((x) => (Array.isArray(x) ? x.join(' or ') : x)),
      ),
    ];
    if (!missing.length) continue;
    if (path.startsWith('/sdn/')) sdnOk = false;
    p.add(
      `${T}/api/token_id`,
      `the API token ${s.api.tokenId} lacks ${missing.join(', ')} on ${path}${path === '/' ? ' (provider.proxmox.ha)' : ''}`,
      path === '/'
        ? `grant the HA privileges on / (for the token and its user): pveum role add PghaHA --privs "Sys.Audit Sys.Console"; pveum acl modify / --tokens '${s.api.tokenId}' --roles PghaHA; or set provider.proxmox.ha: false`
        : privilegeHint(s.api.tokenId, path, missing.join(', ')),
    );
  }
  return sdnOk;
}
