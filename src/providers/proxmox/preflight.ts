// Everything pgha can read is checked before the first request that changes something: the token's privileges on
// every path it will touch, the template, the storage, the bridge, fixed vmids, SSH keys. All problems together.
import type { Inventory, ProxmoxSettings } from '../../inventory/types.js';
import { PveApiError, type PveClient } from './client.js';
import { privilegeHint } from './explain.js';
import { locator, Problems, type Locator } from './locate.js';
import { propertyString, type VmSpec } from './spec.js';
import { parsePublicKey, publicOfPrivate } from './sshkeys.js';
import { getConfig, isMissing, type VmEntry } from './vm.js';

export interface PreflightInput {
  create: VmSpec[];
  /** Existing VMs pgha will start. */
  start: VmEntry[];
  /** Every VM the token sees. */
  vms: VmEntry[];
}

/** Privileges needed on a path: every entry must hold; an array entry means any one of them. */
type Need = (string | string[])[];

const T = '/provider/proxmox';

export async function preflight(c: PveClient, s: ProxmoxSettings, inv: Inventory, input: PreflightInput, log: (l: string) => void): Promise<void> {
  const loc = locator(inv);
  const p = new Problems(loc);
  const node = s.api.node;
  const needs = new Map<string, Need>();
  const need = (path: string, ...privs: Need) => needs.set(path, [...(needs.get(path) ?? []), ...privs]);

  let templateBridge: string | undefined;
  if (input.create.length) {
    templateBridge = await checkTemplate(c, s, input.vms, p);
    await checkStorage(c, s, p);
    const nextId = Number(await c.retry('next free VM id', () => c.api.cluster.nextid.$get()));
    need(`/vms/${s.template}`, 'VM.Clone');
    need(`/storage/${s.storage}`, 'Datastore.AllocateSpace');
    for (const b of new Set([s.bridge, templateBridge ?? s.bridge])) need(`/sdn/zones/localnetwork/${b}`, 'SDN.Use');
    for (const spec of input.create) {
      const path = `/vms/${spec.vmid ?? nextId}`;
      need(path, 'VM.Allocate', 'VM.Audit', 'VM.Config.Options', 'VM.Config.CPU', 'VM.Config.Memory', 'VM.Config.Disk', 'VM.PowerMgmt',
        ['VM.Config.Cloudinit', 'VM.Config.Network']);
      if (templateBridge !== undefined && templateBridge !== s.bridge) need(path, 'VM.Config.Network');
      if (spec.dhcp) need(path, ['VM.GuestAgent.Audit', 'VM.GuestAgent.Unrestricted']);
      if (spec.vmid !== undefined) await checkVmidFree(c, spec, input.vms, p, loc);
      checkKeys(s, spec, p, loc, log);
    }
  }
  for (const vm of input.start) need(`/vms/${vm.vmid}`, 'VM.PowerMgmt');
  const sdnOk = await checkPrivileges(c, s, needs, p);
  if (input.create.length) await checkBridge(c, s, sdnOk, p);
  if (p.list.length) log(`proxmox: ${p.list.length} problem(s) found before any change on node ${node}`);
  p.throwIfAny(inv.file);
}

/** The template exists on the node, is a template and has a cloud-init drive. Returns the bridge of its net0. */
async function checkTemplate(c: PveClient, s: ProxmoxSettings, vms: VmEntry[], p: Problems): Promise<string | undefined> {
  const at = `${T}/template`;
  let cfg: Record<string, unknown>;
  try {
    cfg = await getConfig(c, s.api.node, s.template);
  } catch (e) {
    if (isMissing(e)) {
      const elsewhere = vms.find((v) => v.vmid === s.template)?.node;
      p.add(at, `the template VM ${s.template} does not exist on node ${s.api.node}${elsewhere ? ` (it is on node ${elsewhere})` : ''}`,
        elsewhere ? `set provider.proxmox.api.node: ${elsewhere}, or make a template on ${s.api.node}`
          : 'make a cloud-init template (README, Proxmox VE: qm create … && qm template <id>) and set provider.proxmox.template to its id');
      return undefined;
    }
    if (e instanceof PveApiError && e.status === 403) {
      p.add(`${T}/api/token_id`, `the API token ${s.api.tokenId} lacks VM.Audit on /vms/${s.template}: the template cannot be read`,
        privilegeHint(s.api.tokenId, `/vms/${s.template}`, 'VM.Audit'));
      return undefined;
    }
    throw e;
  }
  if (Number(cfg['template'] ?? 0) !== 1) {
    p.add(at, `VM ${s.template} (${String(cfg['name'] ?? '?')}) on ${s.api.node} is not a template`,
      `turn it into one with: qm template ${s.template}, or set provider.proxmox.template`);
  }
  if (!Object.values(cfg).some((v) => typeof v === 'string' && /cloudinit/.test(v))) {
    p.add(at, `the template ${s.template} has no cloud-init drive`, `add one: qm set ${s.template} --ide2 ${s.storage}:cloudinit`);
  }
  return propertyString(cfg['net0'])['bridge'];
}

async function checkStorage(c: PveClient, s: ProxmoxSettings, p: Problems): Promise<void> {
  const at = `${T}/storage`;
  const hint = `set provider.proxmox.storage to a storage enabled on node ${s.api.node} that holds disk images (pvesm status --content images)`;
  let st: { active?: unknown; enabled?: unknown; content?: unknown };
  try {
    st = (await c.retry('storage status', () => c.api.nodes.$(s.api.node).storage.$(s.storage).status.$get())) as typeof st;
  } catch (e) {
    if (e instanceof PveApiError && e.status === 403) {
      return p.add(`${T}/api/token_id`, `the API token ${s.api.tokenId} lacks Datastore.AllocateSpace on /storage/${s.storage}`,
        privilegeHint(s.api.tokenId, `/storage/${s.storage}`, 'Datastore.AllocateSpace'));
    }
    if (e instanceof PveApiError && (e.status === 400 || /does not exist|not available/.test(e.all))) {
      return p.add(at, `storage '${s.storage}' is not available on node '${s.api.node}'`, hint);
    }
    throw e;
  }
  if (st.enabled !== undefined && !Number(st.enabled)) p.add(at, `storage '${s.storage}' is disabled`, hint);
  else if (!Number(st.active ?? 0)) p.add(at, `storage '${s.storage}' is not active on node '${s.api.node}'`, 'check it on the node: pvesm status');
  const content = String(st.content ?? '').split(',');
  if (!content.includes('images')) p.add(at, `storage '${s.storage}' does not hold disk images (content: ${content.join(',') || 'none'})`, hint);
}

async function checkBridge(c: PveClient, s: ProxmoxSettings, visible: boolean, p: Problems): Promise<void> {
  if (!visible) return; // the missing SDN.Use is reported; the bridge list would hide it anyway
  const list = (await c.retry('list bridges', () => c.api.nodes.$(s.api.node).network.$get({ type: 'any_bridge' }))) as { iface?: string }[];
  const names = list.map((b) => String(b.iface ?? ''));
  if (!names.includes(s.bridge)) {
    p.add(`${T}/bridge`, `bridge ${s.bridge} does not exist on node ${s.api.node}${names.length ? ` (bridges there: ${names.join(', ')})` : ''}`,
      `set provider.proxmox.bridge to a bridge of node ${s.api.node} (ip -br link show type bridge on the node)`);
  }
}

async function checkVmidFree(c: PveClient, spec: VmSpec, vms: VmEntry[], p: Problems, loc: Locator): Promise<void> {
  try {
    await c.retry('check VM id', () => c.api.cluster.nextid.$get({ vmid: spec.vmid }));
  } catch (e) {
    if (!(e instanceof PveApiError) || !/already exists/.test(e.all)) throw e;
    const taken = vms.find((v) => v.vmid === spec.vmid);
    const by = taken ? `${taken.template ? 'template' : 'VM'} '${taken.name ?? '?'}' on ${taken.node}` : 'a VM this token cannot see';
    p.add(loc.first(`/hosts/${spec.name}/proxmox/vmid`), `the VM id ${spec.vmid} from the inventory is already used by ${by}`,
      `pick a free id (pvesh get /cluster/nextid), or remove the vmid to let pgha allocate one`);
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
      p.add(fromPub ? fileAt : keyAt, `${spec.sshKeys.length > 1 ? `key ${i + 1}: ` : ''}${fromPub ? `${h.ssh.keyFile}.pub: ` : ''}not a valid SSH public key: ${k}`,
        'paste the whole line of the .pub file (type, key data, comment), e.g. the output of ssh-keygen -y -f <private key>');
    }
  });
  if (!h.ssh.keyFile) return;
  const priv = publicOfPrivate(h.ssh.keyFile);
  if (priv === 'encrypted') return log(`${h.name}: ${h.ssh.keyFile} is encrypted: pgha cannot check that it matches the public key`);
  if (typeof priv === 'string') {
    return p.add(fileAt, `private key ${h.ssh.keyFile}: ${priv}`, 'set ssh.key_file to the private half of the ssh_public_key given to cloud-init (ssh-keygen -t ed25519 -f <file> makes a pair)');
  }
  const good = parsed.filter((k): k is Exclude<typeof k, string> => typeof k !== 'string');
  if (good.length && !good.some((k) => k.type === priv.type && k.blob === priv.blob)) {
    p.add(fileAt, `private key ${h.ssh.keyFile} does not match ${spec.sshKeys.length > 1 ? 'any of the public keys' : 'the public key'} given to cloud-init for ${h.name} (its public key is ${priv.type} ${priv.blob.slice(0, 24)}…)`,
      `make them a pair: ssh_public_key: "$(ssh-keygen -y -f ${h.ssh.keyFile})", or point ssh.key_file at the private half of ssh_public_key`);
  }
}

async function checkPrivileges(c: PveClient, s: ProxmoxSettings, needs: Map<string, Need>, p: Problems): Promise<boolean> {
  let sdnOk = true;
  for (const [path, privs] of needs) {
    const res = (await c.retry('read token permissions', () => c.api.access.permissions.$get({ path }))) as Record<string, Record<string, unknown>>;
    const have = new Set(Object.keys(res?.[path] ?? {}));
    const missing = [...new Set(privs.filter((x) => (Array.isArray(x) ? !x.some((y) => have.has(y)) : !have.has(x))).map((x) => (Array.isArray(x) ? x.join(' or ') : x)))];
    if (!missing.length) continue;
    if (path.startsWith('/sdn/')) sdnOk = false;
    p.add(`${T}/api/token_id`, `the API token ${s.api.tokenId} lacks ${missing.join(', ')} on ${path}`,
      privilegeHint(s.api.tokenId, path, missing.join(', ')));
  }
  return sdnOk;
}
