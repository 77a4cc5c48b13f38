// The lab's package cache: one apt-cacher-ng per lab, bound to the bridge address, with a configuration of its own.
// The cache directory outlives the lab (under /var/cache/pgha), so a rebuilt lab installs from it. One directory is
// shared by whichever lab runs a cache first; a lab started while another holds it uses a directory of its own
// (two apt-cacher-ng processes never write into the same cache).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { Inventory } from '../../inventory/types.js';
import { ProviderError } from '../../util/errors.js';
import { waitFor } from '../../engine/wait.js';
import { tcpOpen } from '../../util/net.js';
import { cachePaths, labSettings, PACKAGE_CACHE_ROOT, renderAcngConf, renderBackends } from './render.js';
import type { DebianMirror } from './sources.js';
import { findProcesses, livePid, signal, tryRun, waitGone, writeFileMkdir } from './sys.js';

const SHARED = `${PACKAGE_CACHE_ROOT}/shared`;
const OWNER = `${PACKAGE_CACHE_ROOT}/shared.owner`;

export function isCacheProcess(argv: string[], confDir: string): boolean {
  return /(^|\/)apt-cacher-ng$/.test(argv[0] ?? '') && argv.includes(confDir);
}

export function cachePid(inv: Inventory): number | undefined {
  const p = cachePaths(labSettings(inv).stateDir);
  return (
    livePid(p.pidFile, (a) => isCacheProcess(a, p.confDir)) ?? findProcesses((a) => isCacheProcess(a, p.confDir))[0]
  );
}

/** Takes the shared cache directory for this lab when no other running cache holds it. */
function claimShared(confDir: string): boolean {
  mkdirSync(PACKAGE_CACHE_ROOT, { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      closeSync(openSync(OWNER, 'wx'));
      writeFileSync(OWNER, confDir + '\n');
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder = '';
    try {
      holder = readFileSync(OWNER, 'utf8').trim();
    } catch {
      continue;
    }
    if (holder === confDir) return true;
    const young = (() => {
      try {
        return Date.now() - statSync(OWNER).mtimeMs < 30_000;
      } catch {
        return false;
      }
    })();
    if (young || (holder && findProcesses((a) => isCacheProcess(a, holder)).length)) return false;
    rmSync(OWNER, { force: true }); // stale: its cache is gone
  }
  return false;
}

function releaseShared(confDir: string): void {
  try {
    if (readFileSync(OWNER, 'utf8').trim() === confDir) rmSync(OWNER, { force: true });
  } catch {
    /* not held */
  }
}

export interface CacheFiles {
  'acng.conf': string;
  backends_debian: string;
  backends_debian_security?: string;
}

export function cacheFiles(inv: Inventory, mirror: DebianMirror, cacheDir: string): CacheFiles {
  const lab = labSettings(inv);
  const p = cachePaths(lab.stateDir);
  const files: CacheFiles = {
    'acng.conf': renderAcngConf({
      cacheDir,
      logDir: p.logDir,
      bindAddress: lab.bridgeAddress,
      port: lab.cachePort,
      pidFile: `${p.dir}/acng.daemon.pid`,
      socketPath: p.socket,
      securityRemap: !!mirror.security,
    }),
    backends_debian: renderBackends(mirror.uri),
  };
  if (mirror.security) files.backends_debian_security = renderBackends(mirror.security);
  return files;
}

/** Starts the lab's cache unless it runs already. Returns a summary when something was started. */
export async function ensureCache(
  inv: Inventory,
  mirror: DebianMirror,
  log: (l: string) => void,
): Promise<string | undefined> {
  const lab = labSettings(inv);
  const p = cachePaths(lab.stateDir);
  const running = cachePid(inv);
  const confFile = `${p.confDir}/acng.conf`;
  if (running) {
    const current = existsSync(confFile) ? readFileSync(confFile, 'utf8') : '';
    const cacheDir = /^CacheDir: (.*)$/m.exec(current)?.[1] ?? '';
    if (
      current === cacheFiles(inv, mirror, cacheDir)['acng.conf'] &&
      (await tcpOpen(lab.bridgeAddress, lab.cachePort, 2000))
    )
      return undefined;
    log('package cache: configuration changed, restarting it');
    await stopCache(inv);
  }
  const cacheDir = claimShared(p.confDir) ? SHARED : `${PACKAGE_CACHE_ROOT}/${inv.cluster}`;
  mkdirSync(cacheDir, { recursive: true });
  mkdirSync(p.logDir, { recursive: true });
  for (const [name, content] of Object.entries(cacheFiles(inv, mirror, cacheDir)))
    writeFileMkdir(`${p.confDir}/${name}`, content);
  // apt-cacher-ng drops privileges to its user when started as root: let it write there.
  await chownToAcng([cacheDir, p.logDir, p.dir]);
  const out = openSync(p.logFile, 'a');
  const child = spawn('apt-cacher-ng', ['-c', p.confDir], { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  if (!child.pid) throw new ProviderError('could not start apt-cacher-ng', 'is the apt-cacher-ng package installed?');
  child.unref();
  writeFileSync(p.pidFile, `${child.pid}\n`);
  const up = await waitFor(async () => ({ ok: await tcpOpen(lab.bridgeAddress, lab.cachePort, 1000), value: null }), {
    timeoutMs: 15_000,
    intervalMs: 200,
  });
  if (!up.ok) {
    const tail = existsSync(p.logFile) ? readFileSync(p.logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
    await stopCache(inv);
    throw new ProviderError(
      `apt-cacher-ng did not answer on ${lab.bridgeAddress}:${lab.cachePort}`,
      `see ${p.logFile}; is the port taken?`,
      tail,
    );
  }
  return `package cache on ${lab.bridgeAddress}:${lab.cachePort} (${cacheDir})`;
}

async function chownToAcng(dirs: string[]): Promise<void> {
  const r = await tryRun`id -u apt-cacher-ng`;
  if (r.code !== 0) return;
  for (const d of dirs) await tryRun`chown apt-cacher-ng:apt-cacher-ng ${d}`;
}

/** Stops the cache (SIGTERM, then SIGKILL after a deadline) and releases the shared directory. */
export async function stopCache(inv: Inventory): Promise<boolean> {
  const p = cachePaths(labSettings(inv).stateDir);
  const pids = () => findProcesses((a) => isCacheProcess(a, p.confDir));
  const found = pids();
  for (const pid of found) signal(pid, 'SIGTERM');
  const left = await waitGone(pids, 10_000);
  for (const pid of left) signal(pid, 'SIGKILL');
  await waitGone(pids, 5_000);
  rmSync(p.pidFile, { force: true });
  rmSync(p.socket, { force: true });
  releaseShared(p.confDir);
  return found.length > 0;
}
