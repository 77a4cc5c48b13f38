// Pure parts of the lab: names, paths, the image recipe and the files written into hosts and the cache's config.
import { createHash } from 'node:crypto';
import type { Host, Inventory, LabSettings } from '../../inventory/types.js';
import { ProviderError } from '../../util/errors.js';
import { httpForm, type DebianMirror } from './sources.js';

export const SUITE = 'bookworm';
export const IMAGES_DIR = '/var/lib/pgha/images';
export const PACKAGE_CACHE_ROOT = '/var/cache/pgha/apt-cacher-ng';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

export function labSettings(inv: Inventory): LabSettings {
  const lab = inv.provider.lab;
  if (inv.provider.type !== 'lab' || !lab)
    throw new ProviderError(`inventory ${inv.file} does not use the lab provider`, 'set provider.type: lab');
  return lab;
}

/** nspawn machine and network namespace name: unique per lab (cluster-prefixed), a valid hostname label set. */
export function machineName(cluster: string, host: string): string {
  const base = `${cluster}-${host}`
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return base.length <= 56 ? base : `${base.slice(0, 47)}-${sha(base).slice(0, 8)}`;
}

/** Bridge-side veth name (interface names are at most 15 characters). */
export function vethName(machine: string): string {
  return `pgv${sha(machine).slice(0, 8)}`;
}

/**
 * Fixed, locally administered MAC address for a lab interface. Stable MACs keep the neighbour caches of the
 * control machine and the other hosts valid when a host restarts (its veth pair is made anew), and keep the
 * bridge's own address from changing as ports come and go.
 */
export function labMac(what: string): string {
  const h = sha(what);
  return ['02', h.slice(0, 2), h.slice(2, 4), h.slice(4, 6), h.slice(6, 8), h.slice(8, 10)].join(':');
}

export interface HostPaths {
  dir: string;
  upper: string;
  work: string;
  root: string; // overlay mount point, the machine's root directory
  pidFile: string;
  logFile: string;
  lowerFile: string; // records which base image the upper layer was made on
}

export function hostPaths(stateDir: string, host: string): HostPaths {
  const dir = `${stateDir}/hosts/${host}`;
  return {
    dir,
    upper: `${dir}/upper`,
    work: `${dir}/work`,
    root: `${dir}/root`,
    pidFile: `${dir}/nspawn.pid`,
    logFile: `${dir}/nspawn.log`,
    lowerFile: `${dir}/lower`,
  };
}

export interface CachePaths {
  dir: string;
  confDir: string;
  logDir: string;
  pidFile: string;
  logFile: string;
  socket: string;
}

export function cachePaths(stateDir: string): CachePaths {
  const dir = `${stateDir}/cache`;
  return {
    dir,
    confDir: `${dir}/conf`,
    logDir: `${dir}/log`,
    pidFile: `${dir}/acng.pid`,
    logFile: `${dir}/acng.out`,
    socket: `${dir}/acng.socket`,
  };
}

// ---- base image recipe ----

export const IMAGE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'openssh-server',
  'iproute2',
  'python3',
  'sudo',
  'ca-certificates',
  'procps',
  'less',
  'netbase',
  'iputils-ping',
  'tzdata',
];

/** Bump when the post-processing in image.ts changes: it is part of what the image is. */
export const IMAGE_POSTPROCESS_VERSION = 1;

export interface ImageRecipe {
  suite: string;
  variant: 'minbase';
  packages: string[];
  mirror: string;
  postprocess: number;
}

export function imageRecipe(mirror: DebianMirror): ImageRecipe {
  return {
    suite: SUITE,
    variant: 'minbase',
    packages: [...IMAGE_PACKAGES].sort(),
    mirror: mirror.uri,
    postprocess: IMAGE_POSTPROCESS_VERSION,
  };
}

export function recipeHash(r: ImageRecipe): string {
  const canonical = JSON.stringify({ ...r, packages: [...r.packages].sort() }, Object.keys(r).sort());
  return sha(canonical).slice(0, 12);
}

export function imageDir(r: ImageRecipe): string {
  return `${IMAGES_DIR}/${r.suite}-${recipeHash(r)}`;
}

// ---- files inside a host ----

export function renderEtcHosts(hosts: Pick<Host, 'name' | 'address'>[]): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\t\tlocalhost ip6-localhost ip6-loopback',
    'ff02::1\t\tip6-allnodes',
    'ff02::2\t\tip6-allrouters',
    '',
    '# lab hosts',
    ...hosts.map((h) => `${h.address}\t${h.name}`),
  ];
  return lines.join('\n') + '\n';
}

/** The lab network has no DNS server: names come from /etc/hosts, and a lookup fails at once instead of timing out. */
export function renderResolvConf(): string {
  return '# lab network: no DNS server; names are in /etc/hosts\nnameserver 127.0.0.1\noptions timeout:1 attempts:1\n';
}

export function renderAptProxy(bridgeAddress: string, port: number): string {
  return `Acquire::http::Proxy "http://${bridgeAddress}:${port}";\n`;
}

export function renderSourcesList(m: DebianMirror, suite = SUITE): string {
  const uri = httpForm(m.uri);
  const comps = m.components.join(' ');
  const lines = [`deb ${uri} ${suite} ${comps}`];
  if (m.updates) lines.push(`deb ${uri} ${suite}-updates ${comps}`);
  if (m.security)
    lines.push(`deb ${httpForm(m.security)} ${suite}-security ${(m.securityComponents ?? ['main']).join(' ')}`);
  return lines.join('\n') + '\n';
}

// ---- apt-cacher-ng ----

export interface AcngConfig {
  cacheDir: string;
  logDir: string;
  bindAddress: string;
  port: number;
  pidFile: string;
  socketPath: string;
  securityRemap?: boolean;
}

/** A configuration of its own: nothing from /etc/apt-cacher-ng, Debian requests remapped to the control machine's mirror. */
export function renderAcngConf(c: AcngConfig): string {
  const lines = [
    '# written by pgha for one lab; apt-cacher-ng -c <this dir>',
    `CacheDir: ${c.cacheDir}`,
    `LogDir: ${c.logDir}`,
    'SupportDir: /usr/lib/apt-cacher-ng',
    `Port: ${c.port}`,
    `BindAddress: ${c.bindAddress}`,
    `PidFile: ${c.pidFile}`,
    `SocketPath: ${c.socketPath}`,
    'ForeGround: 1',
    'Remap-debrep: file:deb_mirror*.gz /debian ; file:backends_debian',
  ];
  if (c.securityRemap)
    lines.push(
      'Remap-secdeb: security.debian.org security.debian.org/debian-security deb.debian.org/debian-security /debian-security ; file:backends_debian_security',
    );
  lines.push('ReportPage: acng-report.html', 'ExThreshold: 4', 'FollowIndexFileRemoval: 1', 'UnbufferLogs: 1');
  return lines.join('\n') + '\n';
}

/** backends_* files: one base URL per line, ending with a slash. */
export function renderBackends(uri: string): string {
  return `${uri.replace(/\/+$/, '')}/\n`;
}
