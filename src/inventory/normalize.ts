// From the parsed YAML to the normalized Inventory: defaults, paths, merged SSH settings and vars.
// Written defensively: it also runs on data that failed the schema, so one run reports every problem.
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fieldName, lineOf, type Located } from '../util/yamlfile.js';
import { nearest } from '../util/nearest.js';
import type { ParsedYaml } from './parse.js';
import { firstHostAddress, parseSubnet, type Subnet } from './net.js';
import { hostVars } from './vars.js';
import { roleNames, type Catalog } from './catalog.js';
import {
  sidecarPath,
  type Host,
  type Inventory,
  type LabSettings,
  type ProviderSettings,
  type ProxmoxHostSettings,
  type ProxmoxNode,
  type ProxmoxSettings,
  type Role,
  type SshField,
  type SshSettings,
} from './types.js';

type Raw = Record<string, unknown>;
export const obj = (v: unknown): Raw => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Raw) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);

export const PROXMOX_VM_DEFAULTS = { cores: 2, memory: 2048, diskGb: 20, user: 'debian', ip: 'static' as const };

/** Default lab bridge name: the cluster name (prefixed pgha- unless it starts with pgha), at most 15 characters. */
export function defaultBridge(cluster: string): string {
  const name = cluster.startsWith('pgha') ? cluster : `pgha-${cluster}`;
  if (name.length <= 15) return name;
  const hash = createHash('sha256').update(cluster).digest('hex').slice(0, 4);
  return `${name.slice(0, 10).replace(/-+$/, '')}-${hash}`;
}

/** A path from the inventory: ~/ is the home directory, relative paths are relative to the inventory's folder. */
export function resolvePath(dir: string, p: string): string {
  if (p === '~' || p.startsWith('~/')) return resolve(homedir(), p.slice(2));
  return isAbsolute(p) ? p : resolve(dir, p);
}

export interface Built {
  inv: Inventory;
  subnet?: Subnet;
  errors: Located[];
}

export function buildInventory(p: ParsedYaml, catalog: Catalog): Built {
  const ROLES = roleNames(catalog);
  const data = obj(p.data);
  const file = resolve(p.file);
  const dir = dirname(file);
  const errors: Located[] = [];
  const at = (ptr: string, key = false) => lineOf(p.doc, p.lines, ptr, key);
  const cluster = str(data.cluster) ?? 'pgha';

  const network = obj(data.network);
  let subnet: Subnet | undefined;
  if (typeof network.subnet === 'string') {
    const s = parseSubnet(network.subnet);
    if (s.ok) subnet = s.subnet;
    else errors.push({ line: at('/network/subnet'), field: 'network.subnet', message: s.reason });
  }

  const provider = buildProvider(data.provider, cluster, dir, subnet);
  const inv: Inventory = {
    file,
    dir,
    cluster,
    subnet: typeof network.subnet === 'string' ? network.subnet : '',
    prefix: subnet?.prefix ?? 0,
    vip: str(network.vip),
    provider,
    hosts: [],
    groups: {},
    vars: { ...obj(data.vars) },
    warnings: [],
  };

  const sshAll = obj(data.ssh);
  const groupDefs = obj(data.groups);
  for (const [name, spec] of Object.entries(obj(data.hosts))) {
    const h = obj(spec);
    const ptr = `/hosts/${name}`;
    const roles = (Array.isArray(h.roles) ? h.roles : []).filter(
      (r): r is Role => typeof r === 'string' && ROLES.includes(r),
    );
    const groups = (Array.isArray(h.groups) ? h.groups : []).filter((g): g is string => typeof g === 'string');
    groups.forEach((g, i) => {
      if (!(g in groupDefs)) {
        const near = nearest(g, Object.keys(groupDefs));
        errors.push({
          line: at(`${ptr}/groups/${i}`),
          field: fieldName(`${ptr}/groups/${i}`),
          message: `group '${g}' is not declared under groups${near ? `: did you mean '${near}'?` : ` (declare it: groups: {${g}: {}})`}`,
        });
      }
    });
    const pve = provider.proxmox ? proxmoxHost(provider.proxmox, obj(h.proxmox)) : undefined;
    if (h.proxmox !== undefined && !provider.proxmox) {
      errors.push({
        line: at(`${ptr}/proxmox`, true),
        field: fieldName(`${ptr}/proxmox`),
        message: `proxmox settings are only used with provider proxmox (this inventory uses ${provider.type})`,
      });
    }
    const host: Host = {
      name,
      address: str(h.address) ?? '',
      roles: ROLES.filter((r) => roles.includes(r)),
      groups,
      ssh: sshSettings(
        [sshAll, ...groups.map((g) => obj(obj(groupDefs[g]).ssh)), obj(h.ssh)],
        provider,
        pve,
        dir,
        file,
      ),
      vars: hostVars(
        obj(data.vars),
        groups.map((g) => obj(obj(groupDefs[g]).vars)),
        obj(h.vars),
      ),
      ...(pve ? { proxmox: pve } : {}),
    };
    inv.hosts.push(host);
  }

  // Groups: roles, user groups, all. Inventory order inside each group.
  for (const r of ROLES) inv.groups[r] = inv.hosts.filter((h) => h.roles.includes(r)).map((h) => h.name);
  for (const g of Object.keys(groupDefs)) {
    if (ROLES.includes(g) || g === 'all' || g in obj(data.hosts)) {
      const why =
        g === 'all'
          ? 'the group of every host'
          : g in obj(data.hosts)
            ? 'a host name'
            : 'a role (hosts join it through roles)';
      errors.push({
        line: at(`/groups/${g}`, true),
        field: `groups.${g}`,
        message: `group name '${g}' is ${why}: choose another name`,
      });
      continue;
    }
    inv.groups[g] = inv.hosts.filter((h) => h.groups.includes(g)).map((h) => h.name);
  }
  inv.groups.all = inv.hosts.map((h) => h.name);
  return { inv, subnet, errors };
}

function buildProvider(raw: unknown, cluster: string, dir: string, subnet: Subnet | undefined): ProviderSettings {
  const type = typeof raw === 'string' ? raw : (str(obj(raw).type) ?? 'lab');
  const o = obj(raw);
  if (type === 'proxmox') return { type, proxmox: proxmoxSettings(obj(o.proxmox), cluster, dir) };
  if (type === 'static') return { type };
  const l = obj(o.lab);
  const lab: LabSettings = {
    bridge: str(l.bridge) ?? defaultBridge(cluster),
    bridgeAddress: str(l.bridge_address) ?? (subnet ? firstHostAddress(subnet) : ''),
    cachePort: int(l.cache_port) ?? 3142,
    stateDir: resolvePath(dir, str(l.state_dir) ?? `/var/lib/pgha/labs/${cluster}`),
  };
  return { type: 'lab', lab };
}

function proxmoxSettings(o: Raw, cluster: string, dir: string): ProxmoxSettings {
  const api = obj(o.api);
  const d = obj(o.defaults);
  const caFile = str(api.ca_file);
  return {
    api: {
      host: str(api.host) ?? '',
      port: int(api.port) ?? 8006,
      node: str(api.node) ?? '',
      tokenId: str(api.token_id) ?? '',
      tokenSecretEnv: str(api.token_secret_env) ?? 'PGHA_PVE_TOKEN_SECRET',
      verifyTls: bool(api.verify_tls) ?? true,
      ...(caFile ? { caFile: resolvePath(dir, caFile) } : {}),
    },
    nodes: proxmoxNodes(o.nodes, str(api.node) ?? ''),
    spread: bool(o.spread) ?? true,
    ha: bool(o.ha) ?? false,
    template: int(o.template) ?? 0,
    storage: str(o.storage) ?? '',
    bridge: str(o.bridge) ?? '',
    ...(str(o.nameserver) ? { nameserver: str(o.nameserver) } : {}),
    tag: str(o.tag) ?? `pgha-${cluster}`,
    maxParallelClones: int(o.max_parallel_clones) ?? 2,
    sshTimeoutSec: int(o.ssh_timeout) ?? 300,
    defaults: {
      cores: int(d.cores) ?? PROXMOX_VM_DEFAULTS.cores,
      memory: int(d.memory) ?? PROXMOX_VM_DEFAULTS.memory,
      diskGb: int(d.disk) ?? PROXMOX_VM_DEFAULTS.diskGb,
      user: str(d.user) ?? PROXMOX_VM_DEFAULTS.user,
      ip: d.ip === 'dhcp' ? 'dhcp' : 'static',
      ...(str(d.ssh_public_key) ? { sshPublicKey: str(d.ssh_public_key)!.trim() } : {}),
      ...(str(d.gateway) ? { gateway: str(d.gateway) } : {}),
    },
  };
}

function proxmoxNodes(raw: unknown, apiNode: string): ProxmoxNode[] {
  if (!Array.isArray(raw) || !raw.length) return [{ name: apiNode }];
  return raw.flatMap((n): ProxmoxNode[] => {
    if (typeof n === 'string') return n ? [{ name: n }] : [];
    const o = obj(n);
    const template = int(o.template) ?? str(o.template);
    return str(o.name)
      ? [
          {
            name: str(o.name)!,
            ...(template !== undefined ? { template } : {}),
            ...(str(o.storage) ? { storage: str(o.storage) } : {}),
            ...(str(o.bridge) ? { bridge: str(o.bridge) } : {}),
          },
        ]
      : [];
  });
}

function proxmoxHost(s: ProxmoxSettings, h: Raw): ProxmoxHostSettings {
  const d = s.defaults;
  const key = str(h.ssh_public_key)?.trim() ?? d.sshPublicKey;
  const gateway = str(h.gateway) ?? d.gateway;
  return {
    ...(int(h.vmid) !== undefined ? { vmid: int(h.vmid) } : {}),
    ...(str(h.node) ? { node: str(h.node) } : {}),
    cores: int(h.cores) ?? d.cores,
    memory: int(h.memory) ?? d.memory,
    diskGb: int(h.disk) ?? d.diskGb,
    ip: h.ip === 'dhcp' || h.ip === 'static' ? h.ip : (d.ip ?? 'static'),
    ...(gateway ? { gateway } : {}),
    user: str(h.user) ?? d.user,
    ...(key ? { sshPublicKey: key } : {}),
  };
}

/** SSH settings from the layers that set them, lowest first (inventory-wide, groups in order, the host). */
function sshSettings(
  layers: Raw[],
  provider: ProviderSettings,
  pve: ProxmoxHostSettings | undefined,
  dir: string,
  file: string,
): SshSettings {
  const top = <T>(key: string, read: (v: unknown) => T | undefined): T | undefined => {
    for (const l of [...layers].reverse()) if (l[key] !== undefined) return read(l[key]);
    return undefined;
  };
  const explicit: SshField[] = [];
  const mark = <T>(field: SshField, v: T | undefined): T | undefined => (v !== undefined && explicit.push(field), v);
  const user = mark('user', top('user', str) ?? pve?.user) ?? 'root';
  const key = mark(
    'keyFile',
    top('key_file', (v) => (v === null ? null : str(v))),
  );
  const keyFile = key
    ? resolvePath(dir, key)
    : provider.type === 'lab'
      ? sidecarPath({ file }, 'id_ed25519')
      : undefined;
  const jump = mark(
    'jump',
    top('jump', (v) => (v === null ? 'none' : str(v))),
  );
  return {
    user,
    port: mark('port', top('port', int)) ?? 22,
    ...(keyFile ? { keyFile } : {}),
    become: mark('become', top('become', bool)) ?? user !== 'root',
    ...(jump ? { jump } : {}),
    explicit,
  };
}
