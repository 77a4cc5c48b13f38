// What each inventory host should look like as a Proxmox VM, and how an existing VM differs from it.
import { existsSync, readFileSync } from 'node:fs';
import type { Host, Inventory, ProxmoxHostSettings, ProxmoxSettings } from '../../inventory/types.js';
import { UserError } from '../../util/errors.js';

export interface VmSpec {
  host: Host;
  name: string;
  vmid?: number; // fixed id from the inventory
  node?: string; // where the VM goes (set by the placement)
  cores: number;
  memory: number; // MiB
  diskGb: number;
  ciuser: string;
  sshKeys: string[];
  ipconfig0: string;
  dhcp: boolean;
  nameserver?: string;
  tag: string;
}

export function settingsOf(inv: Inventory): ProxmoxSettings {
  const s = inv.provider.proxmox;
  if (inv.provider.type !== 'proxmox' || !s) {
    throw new UserError(
      `the inventory ${inv.file} does not use provider proxmox`,
      'set provider.type: proxmox and a provider.proxmox section',
      { file: inv.file, field: 'provider' },
    );
  }
  return s;
}

function hostSettings(h: Host, s: ProxmoxSettings): ProxmoxHostSettings {
  return (
    h.proxmox ?? {
      cores: s.defaults.cores,
      memory: s.defaults.memory,
      diskGb: s.defaults.diskGb,
      ip: 'static',
      user: s.defaults.user,
      sshPublicKey: s.defaults.sshPublicKey,
    }
  );
}

function publicKeys(h: Host, hs: ProxmoxHostSettings, s: ProxmoxSettings): string[] {
  let text = hs.sshPublicKey ?? s.defaults.sshPublicKey;
  if (!text && h.ssh.keyFile && existsSync(`${h.ssh.keyFile}.pub`)) text = readFileSync(`${h.ssh.keyFile}.pub`, 'utf8');
  return (text ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

export function specFor(inv: Inventory, h: Host): VmSpec {
  const s = settingsOf(inv);
  const hs = hostSettings(h, s);
  if (!/^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(h.name)) {
    throw new UserError(
      `host name ${h.name} cannot be a Proxmox VM name (letters, digits and '-' only)`,
      'rename the host in the inventory',
      { file: inv.file, field: `hosts.${h.name}` },
    );
  }
  const dhcp = hs.ip === 'dhcp';
  const ipconfig0 = dhcp ? 'ip=dhcp' : `ip=${h.address}/${inv.prefix}${hs.gateway ? `,gw=${hs.gateway}` : ''}`;
  return {
    host: h,
    name: h.name,
    vmid: hs.vmid,
    cores: hs.cores,
    memory: hs.memory,
    diskGb: hs.diskGb,
    ciuser: hs.user,
    sshKeys: publicKeys(h, hs, s),
    ipconfig0,
    dhcp,
    nameserver: s.nameserver,
    tag: s.tag,
  };
}

/** PVE wants sshkeys percent-encoded by the client (every reserved character, spaces as %20); the form layer encodes again. */
export function encodeSshKeys(keys: string[]): string {
  return encodeURIComponent(keys.join('\n')).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export function decodeSshKeys(value: unknown): string[] {
  if (typeof value !== 'string' || !value) return [];
  let text = value;
  try {
    text = decodeURIComponent(value);
  } catch {
    /* leave as is */
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** Split a property string (`a=1,b=2` or `value,k=v`) into a map; a bare first value goes under `_`. */
export function propertyString(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value !== 'string') return out;
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) out['_'] = part;
    else out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

export function tagList(value: unknown): string[] {
  return typeof value === 'string'
    ? value
        .split(/[;,\s]+/)
        .map((t) => t.toLowerCase())
        .filter(Boolean)
    : [];
}

/** Size string like `20G`, `512M`, `10240` (bytes) to GiB. */
export function sizeGb(size: string | undefined): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(size ?? '');
  if (!m) return undefined;
  const mult = { '': 1 / 1024 ** 3, K: 1 / 1024 ** 2, M: 1 / 1024, G: 1, T: 1024 }[m[2] as '' | 'K' | 'M' | 'G' | 'T'];
  return Number(m[1]) * mult;
}

const DISK_KEY = /^(scsi|virtio|sata|ide)\d+$/;

/** The boot disk of a VM config: the first disk in `boot: order=` that is not a CD-ROM / cloud-init, else the first disk. */
export function bootDisk(
  config: Record<string, unknown>,
): { key: string; sizeGb?: number; storage: string } | undefined {
  const isDisk = (k: string) =>
    DISK_KEY.test(k) && typeof config[k] === 'string' && !/media=cdrom|cloudinit/.test(config[k] as string);
  const order = propertyString(config['boot'])['order']?.split(';') ?? [];
  const key = order.find(isDisk) ?? Object.keys(config).filter(isDisk).sort()[0];
  if (!key) return undefined;
  const p = propertyString(config[key]);
  return { key, sizeGb: sizeGb(p['size']), storage: (p['_'] ?? p['file'] ?? '').split(':')[0] ?? '' };
}

function memoryOf(value: unknown): number {
  if (typeof value === 'number') return value;
  const p = propertyString(value);
  return Number(p['current'] ?? p['_'] ?? 512);
}

function normIp(value: unknown): string {
  const p = propertyString(value);
  return Object.keys(p)
    .sort()
    .map((k) => `${k}=${p[k]}`)
    .join(',');
}

/** The differences between a VM's config and the inventory, as `key: have → want` lines. */
export function drift(spec: VmSpec, config: Record<string, unknown>): string[] {
  const out: string[] = [];
  const cores = Number(config['cores'] ?? 1);
  if (cores !== spec.cores) out.push(`cores: ${cores} → ${spec.cores}`);
  const mem = memoryOf(config['memory']);
  if (mem !== spec.memory) out.push(`memory: ${mem} MiB → ${spec.memory} MiB`);
  const disk = bootDisk(config);
  if (!disk) out.push('disk: no boot disk found');
  // Smaller than wanted is drift; larger is not (a template disk above `disk` is kept: disks are never shrunk).
  else if (disk.sizeGb !== undefined && disk.sizeGb < spec.diskGb - 0.01)
    out.push(`disk ${disk.key}: ${+disk.sizeGb.toFixed(2)} GiB → ${spec.diskGb} GiB`);
  if (normIp(config['ipconfig0']) !== normIp(spec.ipconfig0))
    out.push(`ipconfig0: ${String(config['ipconfig0'] ?? '(unset)')} → ${spec.ipconfig0}`);
  if ((config['ciuser'] ?? '') !== spec.ciuser)
    out.push(`ciuser: ${String(config['ciuser'] ?? '(unset)')} → ${spec.ciuser}`);
  if (spec.sshKeys.length) {
    const have = decodeSshKeys(config['sshkeys']);
    const missing = spec.sshKeys.filter((k) => !have.includes(k));
    if (missing.length) out.push(`sshkeys: ${missing.length} inventory key(s) missing`);
  }
  if (!tagList(config['tags']).includes(spec.tag.toLowerCase()))
    out.push(`tags: ${String(config['tags'] ?? '(none)')} lacks ${spec.tag}`);
  return out;
}

/** The config keys to set after the clone. */
export function configParams(spec: VmSpec): Record<string, string | number> {
  const p: Record<string, string | number> = {
    ciuser: spec.ciuser,
    ipconfig0: spec.ipconfig0,
    cores: spec.cores,
    memory: String(spec.memory),
    tags: spec.tag,
  };
  if (spec.sshKeys.length) p['sshkeys'] = encodeSshKeys(spec.sshKeys);
  if (spec.nameserver) p['nameserver'] = spec.nameserver;
  return p;
}
