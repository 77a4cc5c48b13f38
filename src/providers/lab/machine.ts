// One lab host: an overlay root over the base image, its own files and keys, booted by systemd-nspawn in its
// network namespace, detached from pgha (setsid), tracked by a pid file in the lab's state dir.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  chmodSync,
  chownSync,
} from 'node:fs';
import type { Host, Inventory } from '../../inventory/types.js';
import { sidecarPath } from '../../inventory/types.js';
import { KnownHosts, hostPattern } from '../../engine/knownhosts.js';
import { ProviderError } from '../../util/errors.js';
import { sleep } from '../../engine/wait.js';
import { deleteHostLink, ensureHostLink, netnsPids } from './net.js';
import {
  hostPaths,
  labSettings,
  machineName,
  renderAptProxy,
  renderEtcHosts,
  renderResolvConf,
  renderSourcesList,
  vethName,
  type HostPaths,
} from './render.js';
import type { DebianMirror } from './sources.js';
import { alive, findProcesses, livePid, mountsUnder, run, signal, tryRun, unmountAll, waitGone } from './sys.js';
import { cloudUserFiles, ensureHome, readAccountFiles } from './users.js';

export interface LabHost {
  name: string;
  address?: string; // unknown for a host that left the inventory and has no record
  port: number;
  machine: string;
  veth: string;
  paths: HostPaths;
}

export function labHost(inv: Inventory, name: string): LabHost {
  const lab = labSettings(inv);
  const h = inv.hosts.find((x) => x.name === name);
  const machine = machineName(inv.cluster, name);
  const paths = hostPaths(lab.stateDir, name);
  let address = h?.address;
  if (!address && existsSync(`${paths.dir}/address`)) address = readFileSync(`${paths.dir}/address`, 'utf8').trim();
  return { name, address, port: h?.ssh.port ?? 22, machine, veth: vethName(machine), paths };
}

export function isNspawnOf(argv: string[], machine: string): boolean {
  if (!/(^|\/)systemd-nspawn$/.test(argv[0] ?? '')) return false;
  const i = argv.indexOf('-M');
  return (i >= 0 && argv[i + 1] === machine) || argv.includes(`--machine=${machine}`);
}

export function nspawnPids(h: LabHost): number[] {
  const recorded = livePid(h.paths.pidFile, (a) => isNspawnOf(a, h.machine));
  const found = findProcesses((a) => isNspawnOf(a, h.machine));
  return [...new Set([...(recorded ? [recorded] : []), ...found])];
}

/** The machine's init: the process in its namespace whose innermost pid (last NSpid field) is 1. */
export async function machineInit(h: LabHost): Promise<number | undefined> {
  for (const pid of await netnsPids(h.machine)) {
    try {
      const ns =
        /^NSpid:\s*(.*)$/m
          .exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
          .trim()
          .split(/\s+/) ?? [];
      if (ns.length > 1 && ns[ns.length - 1] === '1') return pid;
    } catch {
      /* exited meanwhile */
    }
  }
  return undefined;
}

export type MachineState = 'running' | 'stopped' | 'absent';

export async function machineState(h: LabHost): Promise<{ state: MachineState; detail?: string }> {
  const nspawn = nspawnPids(h);
  const init = await machineInit(h);
  if (init)
    return {
      state: 'running',
      detail: nspawn.length ? `machine ${h.machine}` : `machine ${h.machine} (its systemd-nspawn is gone)`,
    };
  if (nspawn.length) return { state: 'running', detail: `machine ${h.machine} (starting or stopping)` };
  return existsSync(h.paths.upper) ? { state: 'stopped', detail: `machine ${h.machine}` } : { state: 'absent' };
}

// ---- the per-inventory SSH key ----

export async function ensureLabKey(inv: Inventory): Promise<string> {
  const key = sidecarPath(inv, 'id_ed25519');
  const dir = key.slice(0, key.lastIndexOf('/'));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  if (!existsSync(key) || !existsSync(`${key}.pub`)) {
    rmSync(key, { force: true });
    rmSync(`${key}.pub`, { force: true });
    await run`ssh-keygen -q -t ed25519 -N ${''} -C ${`pgha-lab-${inv.cluster}`} -f ${key}`;
  }
  chmodSync(key, 0o600);
  return key;
}

// ---- the root file system ----

export async function ensureMount(h: LabHost, lower: string): Promise<boolean> {
  if (mountsUnder(h.paths.root).includes(h.paths.root)) return false;
  for (const d of [h.paths.upper, h.paths.work, h.paths.root]) mkdirSync(d, { recursive: true });
  await run`mount -t overlay ${'overlay'} -o ${`lowerdir=${lower},upperdir=${h.paths.upper},workdir=${h.paths.work}`} ${h.paths.root}`;
  return true;
}

export interface HostFile {
  path: string;
  content: string;
  mode: number;
  owner?: { uid: number; gid: number }; // root's when unset; also the owner of its directory when dirMode is set
  dirMode?: number; // the mode of its directory (made if missing)
}

/** The host's own files; `publicKey` (one key a line, or nothing) is what root's authorized_keys holds. */
export function hostFiles(inv: Inventory, host: Host, mirror: DebianMirror, publicKey: string): HostFile[] {
  const lab = labSettings(inv);
  return [
    { path: '/etc/hostname', content: `${host.name}\n`, mode: 0o644 },
    { path: '/etc/hosts', content: renderEtcHosts(inv.hosts), mode: 0o644 },
    { path: '/etc/resolv.conf', content: renderResolvConf(), mode: 0o644 },
    {
      path: '/etc/apt/apt.conf.d/01pgha-proxy',
      content: renderAptProxy(lab.bridgeAddress, lab.cachePort),
      mode: 0o644,
    },
    { path: '/etc/apt/sources.list', content: renderSourcesList(mirror), mode: 0o644 },
    { path: '/root/.ssh/authorized_keys', content: publicKey.trim() ? publicKey.trim() + '\n' : '', mode: 0o600 },
  ];
}

/** Writes the files that differ (through the overlay mount); returns the paths written. */
export function syncFiles(root: string, files: HostFile[]): string[] {
  const changed: string[] = [];
  for (const f of files) {
    const p = `${root}${f.path}`;
    let current: string | undefined;
    try {
      current = lstatSync(p).isSymbolicLink() ? undefined : readFileSync(p, 'utf8');
    } catch {
      current = undefined;
    }
    const dir = p.slice(0, p.lastIndexOf('/'));
    if (f.dirMode !== undefined) {
      mkdirSync(dir, { recursive: true, mode: f.dirMode });
      chmodSync(dir, f.dirMode);
      if (f.owner) chownSync(dir, f.owner.uid, f.owner.gid);
    }
    if (current !== f.content) {
      mkdirSync(dir, { recursive: true, mode: f.path.startsWith('/root/.ssh') ? 0o700 : 0o755 });
      rmSync(p, { force: true });
      writeFileSync(p, f.content, { mode: f.mode });
      chmodSync(p, f.mode);
      changed.push(f.path);
    }
    if (f.owner) chownSync(p, f.owner.uid, f.owner.gid);
  }
  if (existsSync(`${root}/root/.ssh`)) chmodSync(`${root}/root/.ssh`, 0o700);
  return changed;
}

/** Identity made once per host, before its first boot: machine-id and SSH host keys. */
export async function ensureIdentity(root: string): Promise<void> {
  const mid = `${root}/etc/machine-id`;
  if (!existsSync(mid) || !readFileSync(mid, 'utf8').trim())
    writeFileSync(mid, randomBytes(16).toString('hex') + '\n', { mode: 0o444 });
  if (!existsSync(`${root}/etc/ssh/ssh_host_ed25519_key`)) await run`ssh-keygen -A -f ${root}`;
}

/** Puts the host's own keys into the inventory's known_hosts (replacing keys of an earlier host at that address). */
export function recordHostKeys(inv: Inventory, h: LabHost): void {
  if (!h.address) return;
  const blobs: Buffer[] = [];
  for (const type of ['ed25519', 'ecdsa', 'rsa']) {
    const pub = `${h.paths.root}/etc/ssh/ssh_host_${type}_key.pub`;
    if (existsSync(pub)) blobs.push(Buffer.from(readFileSync(pub, 'utf8').trim().split(/\s+/)[1], 'base64'));
  }
  new KnownHosts(sidecarPath(inv, 'known_hosts')).record(hostPattern(h.address, h.port), blobs);
}

// ---- boot, wait, stop ----

export function nspawnArgv(h: LabHost, hostname: string): string[] {
  return [
    'systemd-nspawn',
    '--boot',
    '--register=no',
    '--keep-unit',
    '-D',
    h.paths.root,
    '-M',
    h.machine,
    `--hostname=${hostname}`,
    `--network-namespace-path=/run/netns/${h.machine}`,
    '--capability=CAP_NET_ADMIN,CAP_NET_RAW',
    '--resolv-conf=off',
    '--link-journal=no',
    '--timezone=off',
    '--console=read-only',
  ];
}

export function boot(h: LabHost, hostname: string): number {
  const argv = nspawnArgv(h, hostname);
  const out = openSync(h.paths.logFile, 'a');
  writeFileSync(out, `\n# ${new Date().toISOString()} ${argv.join(' ')}\n`);
  const child = spawn(argv[0], argv.slice(1), { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  if (!child.pid) throw new ProviderError(`could not start systemd-nspawn for ${h.name}`);
  child.unref();
  writeFileSync(h.paths.pidFile, `${child.pid}\n`);
  return child.pid;
}

export function sshArgs(inv: Inventory, h: LabHost, key: string, user = 'root'): string[] {
  return [
    '-F',
    '/dev/null',
    '-i',
    key,
    '-p',
    String(h.port),
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${sidecarPath(inv, 'known_hosts')}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'ConnectTimeout=3',
    `${user}@${h.address}`,
  ];
}

/** Waits (bounded) until sshd answers `user` with the lab key and the recorded host key. */
export async function waitSsh(
  inv: Inventory,
  h: LabHost,
  key: string,
  timeoutMs: number,
  pid?: number,
  user = 'root',
): Promise<number> {
  const start = Date.now();
  let last = '';
  while (Date.now() - start < timeoutMs) {
    if (pid && !alive(pid)) {
      const tail = existsSync(h.paths.logFile)
        ? readFileSync(h.paths.logFile, 'utf8').split('\n').slice(-25).join('\n')
        : '';
      throw new ProviderError(`lab host ${h.name}: systemd-nspawn exited during boot`, `see ${h.paths.logFile}`, tail);
    }
    const r = await tryRun`ssh ${sshArgs(inv, h, key, user)} true`;
    if (r.code === 0) return Date.now() - start;
    last = r.stderr.trim();
    await sleep(500);
  }
  throw new ProviderError(
    `lab host ${h.name} (${h.address}) did not answer on SSH within ${Math.round(timeoutMs / 1000)} s`,
    `see ${h.paths.logFile}`,
    last,
  );
}

/** Powers the machine off (SIGTERM to nspawn, or SIGRTMIN+4 to an orphaned init), SIGKILL after the deadline. */
export async function stopMachine(h: LabHost, timeoutMs = 90_000): Promise<boolean> {
  const nspawn = nspawnPids(h);
  const init = await machineInit(h);
  if (!nspawn.length && !init) {
    rmSync(h.paths.pidFile, { force: true });
    return false;
  }
  for (const pid of nspawn) signal(pid, 'SIGTERM');
  if (!nspawn.length && init) await tryRun`kill -s RTMIN+4 ${init}`;
  const everything = async () => [...nspawnPids(h), ...(await netnsPids(h.machine))];
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && (await everything()).length) await sleep(250);
  const left = await everything();
  if (left.length) {
    const i = await machineInit(h);
    if (i) signal(i, 'SIGKILL'); // ends every process of the machine at once
    for (const pid of left) signal(pid, 'SIGKILL');
    const survivors = await waitGone(() => [...nspawnPids(h)], 10_000);
    const nsLeft = await netnsPids(h.machine);
    if (survivors.length || nsLeft.length)
      throw new ProviderError(`lab host ${h.name}: processes survive SIGKILL: ${[...survivors, ...nsLeft].join(' ')}`);
  }
  rmSync(h.paths.pidFile, { force: true });
  return true;
}

/** SIGKILL to the machine's init: a crash of the whole machine. */
export async function hardKill(h: LabHost): Promise<number> {
  const init = await machineInit(h);
  if (!init) throw new ProviderError(`lab host ${h.name} is not running`);
  const nspawn = nspawnPids(h);
  signal(init, 'SIGKILL');
  await waitGone(() => [init, ...nspawn], 10_000); // nspawn exits once its machine is gone
  return init;
}

/** Stop, unmount, unplug: what `down` does per host, also after a crashed run. */
export async function teardown(h: LabHost, timeoutMs?: number): Promise<boolean> {
  const stopped = await stopMachine(h, timeoutMs);
  const mounted = mountsUnder(h.paths.dir).length > 0;
  await unmountAll(h.paths.dir);
  await deleteHostLink(h.machine, h.veth);
  return stopped || mounted;
}

/** Who gets the SSH keys on a fresh host: root (the default), or a cloud-init user with sudo (then root gets none). */
export interface LoginUser {
  user?: string;
  extraKeys?: string[];
}

export async function prepareAndBoot(
  inv: Inventory,
  host: Host,
  h: LabHost,
  lower: string,
  mirror: DebianMirror,
  key: string,
  bootTimeoutMs: number,
  login: LoginUser = {},
): Promise<number> {
  const lab = labSettings(inv);
  mkdirSync(h.paths.dir, { recursive: true });
  writeFileSync(`${h.paths.dir}/address`, `${host.address}\n`);
  if (!existsSync(h.paths.lowerFile)) writeFileSync(h.paths.lowerFile, lower + '\n');
  await ensureHostLink(h.machine, h.veth, lab.bridge, host.address, inv.prefix, lab.bridgeAddress);
  await ensureMount(h, lower);
  const keys = [
    readFileSync(`${key}.pub`, 'utf8').trim(),
    ...(login.extraKeys ?? []).map((k) => k.trim()).filter(Boolean),
  ].join('\n');
  const user = login.user ?? 'root';
  if (user === 'root') {
    syncFiles(h.paths.root, hostFiles(inv, host, mirror, keys));
  } else {
    const cu = cloudUserFiles(readAccountFiles(h.paths.root), user, keys + '\n');
    ensureHome(h.paths.root, cu.account);
    syncFiles(h.paths.root, [...hostFiles(inv, host, mirror, ''), ...cu.files]);
  }
  await ensureIdentity(h.paths.root);
  recordHostKeys(inv, h);
  const pid = boot(h, host.name);
  return waitSsh(inv, h, key, bootTimeoutMs, pid, user);
}
