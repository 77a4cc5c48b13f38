// The base image: Debian bookworm minbase made by debootstrap once per recipe, shared read-only by every lab host
// (the lower layer of each host's overlay). Built in a temp dir and renamed into place, so a killed build is never used.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { spawn } from 'node:child_process';
import { ProviderError } from '../../util/errors.js';
import { sleep } from '../../engine/wait.js';
import { lockHolder, tryLock } from '../../engine/lock.js';
import { imageDir, imageRecipe, IMAGES_DIR, recipeHash, type ImageRecipe } from './render.js';
import { httpForm, type DebianMirror } from './sources.js';
import { alive, findProcesses, removeTree, signal, unmountAll, waitGone } from './sys.js';

export const IMAGE_MARKER = '.pgha-image.json';
const BUILD_TIMEOUT_MS = 30 * 60_000;

export function imageReady(dir: string): boolean {
  return existsSync(`${dir}/${IMAGE_MARKER}`);
}

/** Where the image for this mirror is (or will be). */
export function baseImagePath(mirror: DebianMirror): string {
  return imageDir(imageRecipe(mirror));
}

/** Removes temp dirs of builds whose process is gone (a killed build), unmounting what debootstrap left mounted. */
async function removeStaleBuilds(): Promise<void> {
  for (const name of readdirSync(IMAGES_DIR)) {
    const m = /^\.tmp-.*-(\d+)$/.exec(name);
    if (!m || alive(Number(m[1]))) continue;
    // The builder died; a debootstrap it started may still be running into the directory.
    const tmp = `${IMAGES_DIR}/${name}`;
    const orphans = () => findProcesses((argv) => argv.some((a) => a === tmp || a.startsWith(`${tmp}/`)));
    for (const pid of orphans()) signal(pid, 'SIGKILL');
    await waitGone(orphans, 10_000);
    await removeTree(tmp);
  }
}

/**
 * One builder per recipe across processes, with the same flock as the run lock: its release, or undefined when
 * another process built the image meanwhile.
 */
export async function takeBuildLock(
  lock: string,
  dir: string,
  timeoutMs = BUILD_TIMEOUT_MS,
): Promise<(() => void) | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const release = tryLock(lock, `build ${dir}`);
    if (release) return release;
    if (imageReady(dir)) return undefined;
    if (Date.now() > end)
      throw new ProviderError(`timed out waiting for another build of ${dir} (${lockHolder(lock)})`);
    await sleep(1000);
  }
}

function runLogged(argv: string[], env: NodeJS.ProcessEnv, logFile: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const out = openSync(logFile, 'a');
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', out, out] });
    closeSync(out);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code ?? 1);
    });
  });
}

export interface ImageResult {
  dir: string;
  built: boolean;
  seconds: number;
}

/**
 * Makes sure the base image for this mirror exists. `proxy` (http://addr:port of the lab's package cache) routes
 * debootstrap through apt-cacher-ng so a rebuild is served from the cache.
 */
export async function ensureBaseImage(
  mirror: DebianMirror,
  log: (l: string) => void,
  proxy?: string,
): Promise<ImageResult> {
  const recipe = imageRecipe(mirror);
  const dir = imageDir(recipe);
  if (imageReady(dir)) return { dir, built: false, seconds: 0 };
  mkdirSync(IMAGES_DIR, { recursive: true });
  const lock = `${dir}.lock`;
  const release = await takeBuildLock(lock, dir);
  if (!release) return { dir, built: false, seconds: 0 };
  const started = Date.now();
  try {
    if (imageReady(dir)) return { dir, built: false, seconds: 0 };
    await removeStaleBuilds();
    if (existsSync(dir)) await removeTree(dir); // a directory without the marker is not an image
    const name = dir.slice(dir.lastIndexOf('/') + 1);
    const tmp = `${IMAGES_DIR}/.tmp-${name}-${process.pid}`;
    await removeTree(tmp);
    const logFile = `${IMAGES_DIR}/${name}.build.log`;
    writeFileSync(logFile, `# ${new Date().toISOString()} ${JSON.stringify(recipe)}\n`);
    log(`building base image ${name} with debootstrap${proxy ? ` through ${proxy}` : ''} (log: ${logFile})`);
    const env: NodeJS.ProcessEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (proxy) env.http_proxy = proxy;
    const argv = [
      'debootstrap',
      `--variant=${recipe.variant}`,
      `--include=${recipe.packages.join(',')}`,
      `--components=${mirror.components.join(',')}`,
      recipe.suite,
      tmp,
      httpForm(recipe.mirror),
    ];
    const code = await runLogged(argv, env, logFile, BUILD_TIMEOUT_MS);
    if (code !== 0) {
      const tail = readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
      await removeTree(tmp);
      throw new ProviderError(`debootstrap failed (exit ${code}) building ${name}`, `see ${logFile}`, tail);
    }
    await postprocess(tmp, recipe);
    renameSync(tmp, dir);
    const seconds = (Date.now() - started) / 1000;
    log(`base image ${name} built in ${seconds.toFixed(0)} s`);
    return { dir, built: true, seconds };
  } finally {
    release();
  }
}

/** What makes the debootstrap tree a base for many hosts: nothing host-specific stays in it. */
async function postprocess(root: string, recipe: ImageRecipe): Promise<void> {
  await unmountAll(root); // debootstrap unmounts /proc and /sys itself; be sure nothing stays mounted in the image
  for (const f of readdirSync(`${root}/etc/ssh`)) if (f.startsWith('ssh_host_')) rmSync(`${root}/etc/ssh/${f}`);
  writeFileSync(`${root}/etc/machine-id`, ''); // each host gets its own
  rmSync(`${root}/var/lib/dbus/machine-id`, { force: true });
  rmSync(`${root}/etc/resolv.conf`, { force: true });
  rmSync(`${root}/etc/hostname`, { force: true });
  const archives = `${root}/var/cache/apt/archives`;
  if (existsSync(archives)) for (const f of readdirSync(archives)) if (f.endsWith('.deb')) rmSync(`${archives}/${f}`);
  writeFileSync(
    `${root}/${IMAGE_MARKER}`,
    JSON.stringify({ ...recipe, hash: recipeHash(recipe), built: new Date().toISOString() }, null, 2) + '\n',
  );
}
