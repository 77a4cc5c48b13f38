// The local lab: real Debian 12 hosts as systemd-nspawn machines on a bridge of the control machine, with a
// package cache on the bridge address.
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import type { Inventory } from '../../inventory/types.js';
import { sidecarPath } from '../../inventory/types.js';
import { KnownHosts, hostPattern } from '../../engine/knownhosts.js';
import { ProviderError, UserError } from '../../util/errors.js';
import type { HostState, Provider, ProviderChange, ProviderContext } from '../types.js';
import { cachePid, ensureCache, isCacheProcess, stopCache } from './cache.js';
import { assertLabPlatform, ensureControlPackages, missingPackages } from './control.js';
import { baseImagePath, ensureBaseImage, imageReady } from './image.js';
import {
  ensureLabKey,
  ensureMount,
  hardKill,
  hostFiles,
  isNspawnOf,
  labHost,
  machineInit,
  machineState,
  prepareAndBoot,
  recordHostKeys,
  syncFiles,
  teardown,
  type LabHost,
} from './machine.js';
import { bridgePorts, deleteBridgeIfUnused, ensureBridge, linkExists, netnsExists, netnsPids } from './net.js';
import { cachePaths, labSettings } from './render.js';
import { controlMachineMirror, type DebianMirror } from './sources.js';
import { findProcesses, mountsUnder, removeTree } from './sys.js';
import { labPlan, type LabPlan } from './select.js';
import { limitedHosts } from '../../inventory/limit.js';
import { ensureInotifyLimits } from './inotify.js';
import { scanLab, stateIn, waitSshBanner, type LabProcs } from './procs.js';

const BOOT_TIMEOUT_MS = 120_000;
const LAB = 'lab';

function validate(inv: Inventory): void {
  const lab = labSettings(inv);
  const where = { file: inv.file, field: 'provider.lab' };
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(lab.bridge))
    throw new UserError(
      `lab bridge name "${lab.bridge}" is not a valid interface name (1-15 characters)`,
      'set provider.lab.bridge',
      where,
    );
  if (!lab.bridgeAddress)
    throw new UserError('lab bridge address is not set', 'set provider.lab.bridge_address or network.subnet', where);
  // apt-cacher-ng 3.7 cannot bind ports above 32767 ("Error resolving address for binding").
  if (!(lab.cachePort > 0 && lab.cachePort < 32768))
    throw new UserError(
      `lab cache port ${lab.cachePort} is out of range`,
      'use a port between 1 and 32767 (default 3142)',
      where,
    );
  const seen = new Set<string>([lab.bridgeAddress]);
  for (const h of inv.hosts) {
    if (seen.has(h.address))
      throw new UserError(
        `address ${h.address} of host ${h.name} is used twice in the lab`,
        'give every host its own address, not the bridge address',
        { file: inv.file, field: `hosts.${h.name}.address` },
      );
    seen.add(h.address);
  }
}

/** Raises the control machine's inotify limits for the hosts about to boot, or refuses before anything boots. */
function inotifyFor(ctx: ProviderContext, hosts: LabHost[], procs: LabProcs): void {
  const toBoot = hosts.filter((h) => stateIn(h, procs).state !== 'running').length;
  if (toBoot) ensureInotifyLimits(toBoot, ctx.log, { check: ctx.check });
}

/** Hosts of the inventory plus hosts this lab still has on disk (removed from the inventory since). */
function allLabHosts(inv: Inventory): LabHost[] {
  const names = new Set(inv.hosts.map((h) => h.name));
  const dir = `${labSettings(inv).stateDir}/hosts`;
  if (existsSync(dir)) for (const n of readdirSync(dir)) names.add(n);
  return [...names].map((n) => labHost(inv, n));
}

function lowerOf(h: LabHost, fallback: string): string {
  if (!existsSync(h.paths.lowerFile)) return fallback;
  const lower = readFileSync(h.paths.lowerFile, 'utf8').trim();
  if (!imageReady(lower))
    throw new ProviderError(
      `lab host ${h.name} was made on base image ${lower}, which is gone`,
      `run pgha destroy for this inventory, then up again`,
    );
  return lower;
}

async function up(inv: Inventory, ctx: ProviderContext): Promise<ProviderChange[]> {
  assertLabPlatform();
  validate(inv);
  const lab = labSettings(inv);
  const changes: ProviderChange[] = [];
  const add = (host: string, action: ProviderChange['action'], summary: string) => {
    changes.push({ host, action, summary });
    ctx.log(`${host}: ${summary}`);
  };

  const hosts = limitedHosts(inv);
  const labHosts = new Map(hosts.map((host) => [host.name, labHost(inv, host.name)]));
  const procs = scanLab([...labHosts.values()].map((h) => h.machine));
  inotifyFor(ctx, [...labHosts.values()], procs);
  if (ctx.check) {
    const missing = await missingPackages();
    if (missing.length) add(LAB, 'create', `install on the control machine: ${missing.join(' ')}`);
    const mirror = controlMachineMirror();
    if (!imageReady(baseImagePath(mirror))) add(LAB, 'create', `build base image ${baseImagePath(mirror)}`);
    if (!linkExists(lab.bridge)) add(LAB, 'create', `bridge ${lab.bridge} ${lab.bridgeAddress}/${inv.prefix}`);
    if (!cachePid(inv)) add(LAB, 'start', `package cache on ${lab.bridgeAddress}:${lab.cachePort}`);
    const pub = existsSync(sidecarPath(inv, 'id_ed25519.pub'))
      ? readFileSync(sidecarPath(inv, 'id_ed25519.pub'), 'utf8')
      : '';
    for (const host of hosts) {
      const h = labHosts.get(host.name)!;
      const st = stateIn(h, procs);
      if (st.state === 'absent') add(host.name, 'create', `create machine ${h.machine} (${host.address})`);
      else if (st.state === 'stopped') add(host.name, 'start', `start machine ${h.machine}`);
      else if (mountsUnder(h.paths.root).includes(h.paths.root)) {
        const drift = hostFiles(inv, host, mirror, pub).filter((f) => {
          try {
            return readFileSync(`${h.paths.root}${f.path}`, 'utf8') !== f.content;
          } catch {
            return true;
          }
        });
        if (drift.length) add(host.name, 'change', `rewrite ${drift.map((f) => f.path).join(', ')}`);
      }
    }
    return changes;
  }

  const installed = await ensureControlPackages(ctx.log, false);
  if (installed.length) add(LAB, 'create', `installed on the control machine: ${installed.join(' ')}`);
  const mirror: DebianMirror = controlMachineMirror();
  const key = await ensureLabKey(inv);
  if (await ensureBridge(lab.bridge, lab.bridgeAddress, inv.prefix))
    add(LAB, 'create', `bridge ${lab.bridge} ${lab.bridgeAddress}/${inv.prefix}`);
  const cache = await ensureCache(inv, mirror, ctx.log);
  if (cache) add(LAB, 'start', cache);
  const image = await ensureBaseImage(mirror, ctx.log, `http://${lab.bridgeAddress}:${lab.cachePort}`);
  if (image.built) add(LAB, 'create', `base image ${image.dir} (${image.seconds.toFixed(0)} s)`);

  const pub = readFileSync(`${key}.pub`, 'utf8');
  await Promise.all(
    hosts.map(async (host) => {
      const h = labHosts.get(host.name)!;
      const st = stateIn(h, procs);
      if (st.state === 'running' && st.init) {
        // Running: keep it, rewrite files that drifted (e.g. /etc/hosts after a host was added), make sure SSH answers.
        await ensureMount(h, lowerOf(h, image.dir));
        const written = syncFiles(h.paths.root, hostFiles(inv, host, mirror, pub));
        if (written.length) add(host.name, 'change', `rewrote ${written.join(', ')}`);
        recordHostKeys(inv, h);
        try {
          await waitSshBanner(h, BOOT_TIMEOUT_MS);
          return;
        } catch (e) {
          ctx.log(`${host.name}: running but SSH does not answer (${(e as Error).message}); restarting it`);
          await teardown(h);
        }
      } else if (st.state === 'running') {
        await teardown(h); // nspawn without a machine: a start that was cut short
      }
      const existed = existsSync(h.paths.upper);
      const ms = await prepareAndBoot(inv, host, h, lowerOf(h, image.dir), mirror, key, BOOT_TIMEOUT_MS);
      add(
        host.name,
        existed ? 'start' : 'create',
        `${existed ? 'started' : 'created'} machine ${h.machine} (${host.address}), SSH after ${(ms / 1000).toFixed(1)} s`,
      );
    }),
  );
  return changes;
}

/** The machines a stop or destroy touches (--limit) and what happens to the lab's shared parts. */
async function planFor(inv: Inventory, action: 'down' | 'destroy'): Promise<{ hosts: LabHost[]; plan: LabPlan }> {
  const all = allLabHosts(inv);
  const machines = await Promise.all(
    all.map(async (h) => ({
      name: h.name,
      running: (await machineState(h)).state === 'running',
      onDisk: existsSync(h.paths.dir),
    })),
  );
  const plan = labPlan(action, machines, inv.limit);
  return { hosts: all.filter((h) => plan.chosen.includes(h.name)), plan };
}

async function down(
  inv: Inventory,
  ctx: ProviderContext,
  action: 'down' | 'destroy' = 'down',
): Promise<ProviderChange[]> {
  assertLabPlatform();
  const lab = labSettings(inv);
  const changes: ProviderChange[] = [];
  const { hosts, plan } = await planFor(inv, action);
  const kept = () =>
    ctx.log(`bridge ${lab.bridge} and the package cache kept: ${plan.othersRunning.join(', ')} still running`);
  if (ctx.check) {
    for (const h of hosts)
      if ((await machineState(h)).state === 'running')
        changes.push({ host: h.name, action: 'change', summary: `stop machine ${h.machine}` });
    if (!plan.stopShared) kept();
    else {
      if (cachePid(inv)) changes.push({ host: LAB, action: 'change', summary: 'stop the package cache' });
      if (linkExists(lab.bridge))
        changes.push({
          host: LAB,
          action: 'delete',
          summary: `delete bridge ${lab.bridge} (when no other host uses it)`,
        });
    }
    return changes;
  }
  await Promise.all(
    hosts.map(async (h) => {
      if (await teardown(h)) changes.push({ host: h.name, action: 'change', summary: `stopped machine ${h.machine}` });
    }),
  );
  if (plan.stopShared) {
    if (await stopCache(inv)) changes.push({ host: LAB, action: 'change', summary: 'stopped the package cache' });
    const others = bridgePorts(lab.bridge);
    if (await deleteBridgeIfUnused(lab.bridge))
      changes.push({ host: LAB, action: 'delete', summary: `deleted bridge ${lab.bridge}` });
    else if (others.length) ctx.log(`bridge ${lab.bridge} kept: still used by ${others.join(', ')}`);
  } else kept();
  for (const c of changes) ctx.log(`${c.host}: ${c.summary}`);
  return changes;
}

async function destroy(inv: Inventory, ctx: ProviderContext): Promise<ProviderChange[]> {
  assertLabPlatform();
  const lab = labSettings(inv);
  const { hosts, plan } = await planFor(inv, 'destroy');
  const gone = hosts.filter((h) => plan.remove.includes(h.name));
  if (ctx.check) {
    const changes = await down(inv, ctx, 'destroy');
    for (const h of gone)
      changes.push({ host: h.name, action: 'delete', summary: `delete machine ${h.machine} and its disk` });
    return changes;
  }
  const changes = await down(inv, ctx, 'destroy');
  const kh = new KnownHosts(sidecarPath(inv, 'known_hosts'));
  for (const h of hosts) {
    if (existsSync(h.paths.dir)) {
      await removeTree(h.paths.dir);
      changes.push({ host: h.name, action: 'delete', summary: `deleted machine ${h.machine} and its disk` });
      ctx.log(`${h.name}: deleted machine ${h.machine} and its disk`);
    }
    if (h.address) kh.forget([hostPattern(h.address, h.port)]);
  }
  if (!plan.removeState) return changes;
  // Only what the lab made: the state dir may have been pointed at a directory holding other things.
  await removeTree(`${lab.stateDir}/hosts`);
  await removeTree(cachePaths(lab.stateDir).dir);
  try {
    rmdirSync(lab.stateDir);
  } catch {
    /* absent, or holds files that are not the lab's */
  }
  return changes;
}

async function status(inv: Inventory): Promise<HostState[]> {
  const hosts = inv.hosts.map((host) => labHost(inv, host.name));
  const procs = scanLab(hosts.map((h) => h.machine));
  return Promise.all(
    inv.hosts.map(async (host, i) => {
      const st = stateIn(hosts[i], procs);
      return { host: host.name, state: st.state, detail: st.detail ? `${st.detail}, ${host.address}` : undefined };
    }),
  );
}

export const labProvider: Provider = { name: 'lab', up, down: (inv, ctx) => down(inv, ctx), destroy, status };

// ---- for end-to-end tests and the CLI's lab commands ----

function known(inv: Inventory, hostName: string): LabHost {
  if (!inv.hosts.some((h) => h.name === hostName)) throw new UserError(`no host ${hostName} in ${inv.file}`);
  return labHost(inv, hostName);
}

/** SIGKILL the machine's init: the whole machine dies at once, as in a power loss. Returns the killed pid. */
export async function hardKillHost(inv: Inventory, hostName: string): Promise<number> {
  return hardKill(known(inv, hostName));
}

/**
 * Start one stopped (or crashed) host again, or boot a new one; the lab's bridge, cache and base image must be up
 * (they are after `up`, also an `up` of the inventory without hosts). `authorizedKeys` are given besides the lab's
 * own key (e.g. the keys a VM gets from cloud-init) to `user`: root by default; any other user is made as cloud-init
 * makes it (home, /bin/bash, group sudo, passwordless sudo) and gets all the keys, root none. Written before the boot.
 */
export async function startHost(
  inv: Inventory,
  hostName: string,
  opts: { authorizedKeys?: string[]; user?: string } = {},
): Promise<void> {
  const host = inv.hosts.find((h) => h.name === hostName);
  const h = known(inv, hostName);
  if ((await machineState(h)).state === 'running' && (await machineInit(h))) return;
  await teardown(h); // leftovers of a crash: nspawn, mount, links
  ensureInotifyLimits(1, () => undefined);
  const mirror = controlMachineMirror();
  const key = await ensureLabKey(inv);
  await prepareAndBoot(inv, host!, h, lowerOf(h, baseImagePath(mirror)), mirror, key, BOOT_TIMEOUT_MS, {
    extraKeys: opts.authorizedKeys,
    user: opts.user,
  });
}

/** Clean shutdown of one host (its disk is kept). */
export async function stopHost(inv: Inventory, hostName: string): Promise<void> {
  await teardown(known(inv, hostName));
}

/** Stop one host and delete its disk (the bridge and cache stay); its host keys are forgotten. */
export async function removeHost(inv: Inventory, hostName: string): Promise<void> {
  const h = known(inv, hostName);
  await teardown(h);
  await removeTree(h.paths.dir);
  if (h.address) new KnownHosts(sidecarPath(inv, 'known_hosts')).forget([hostPattern(h.address, h.port)]);
}

/** The lab's private SSH key (generated once per inventory). */
export function labSshKey(inv: Inventory): string {
  return sidecarPath(inv, 'id_ed25519');
}

/** Everything of this lab still present on the control machine, one line each; empty after down/destroy. */
export async function labResourcesLeft(inv: Inventory): Promise<string[]> {
  const lab = labSettings(inv);
  const left: string[] = [];
  const hosts = allLabHosts(inv);
  for (const h of hosts) {
    if (netnsExists(h.machine)) left.push(`netns ${h.machine}`);
    if (linkExists(h.veth)) left.push(`veth ${h.veth}`);
    for (const pid of await netnsPids(h.machine)) left.push(`process ${pid} in netns ${h.machine}`);
  }
  if (linkExists(lab.bridge)) left.push(`bridge ${lab.bridge}`);
  for (const m of mountsUnder(lab.stateDir)) left.push(`mount ${m}`);
  const machines = hosts.map((h) => h.machine);
  for (const pid of findProcesses((a) => machines.some((m) => isNspawnOf(a, m))))
    left.push(`process ${pid} systemd-nspawn`);
  const confDir = cachePaths(lab.stateDir).confDir;
  for (const pid of findProcesses((a) => isCacheProcess(a, confDir))) left.push(`process ${pid} apt-cacher-ng`);
  return left;
}
