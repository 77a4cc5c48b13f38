// Local system helpers for the lab: commands (zx), pid files, /proc scans, mounts.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { $, type ProcessOutput } from 'zx';
import { ProviderError } from '../../util/errors.js';
import { sleep } from '../../engine/wait.js';

const sh = $({ quiet: true, verbose: false });
const shNo = $({ quiet: true, verbose: false, nothrow: true });

/** Run a command; a failure becomes a ProviderError carrying its stderr. */
export async function run(pieces: TemplateStringsArray, ...args: unknown[]): Promise<string> {
  try {
    const out = await sh(pieces, ...(args as never[]));
    return out.stdout;
  } catch (e) {
    const p = e as ProcessOutput;
    const cmd = pieces.reduce((acc, s, i) => acc + s + (i < args.length ? String(args[i]) : ''), '');
    throw new ProviderError(
      `command failed: ${cmd}`,
      undefined,
      `exit ${p.exitCode}: ${(p.stderr || p.stdout || String(e)).trim()}`,
    );
  }
}

/** Run a command, never throwing: returns exit code and output. */
export async function tryRun(
  pieces: TemplateStringsArray,
  ...args: unknown[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = await shNo(pieces, ...(args as never[]));
  return { code: p.exitCode ?? 1, stdout: p.stdout, stderr: p.stderr };
}

export function readPid(file: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

export function writeFileMkdir(path: string, content: string, mode = 0o644): void {
  mkdirSync(path.slice(0, path.lastIndexOf('/')), { recursive: true });
  writeFileSync(path, content, { mode });
}

/** argv of a live process (undefined when gone or a zombie). */
export function cmdline(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (!raw) return undefined;
    return raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(st);
  } catch {
    return false;
  }
}

export function allPids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** Live processes whose argv satisfies the predicate. */
export function findProcesses(match: (argv: string[]) => boolean): number[] {
  const out: number[] = [];
  for (const pid of allPids()) {
    const argv = cmdline(pid);
    if (argv && match(argv)) out.push(pid);
  }
  return out;
}

/** The pid recorded in a pid file, only if that process is alive and still the one we started. */
export function livePid(file: string, isOurs: (argv: string[]) => boolean): number | undefined {
  const pid = readPid(file);
  if (!pid) return undefined;
  const argv = cmdline(pid);
  return argv && isOurs(argv) ? pid : undefined;
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/** Polls until none of the pids is alive or the deadline passes; returns the survivors. */
export async function waitGone(pids: () => number[], timeoutMs: number, intervalMs = 200): Promise<number[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const left = pids().filter(alive);
    if (!left.length || Date.now() >= end) return left;
    await sleep(intervalMs);
  }
}

/** Mount points at or under a directory (deepest first), from this process's mount table. */
export function mountsUnder(dir: string): string[] {
  const base = dir.replace(/\/+$/, '');
  const table = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  const points = table
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\040/g, ' '))
    .filter((p) => p === base || p.startsWith(base + '/'));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function unmountAll(dir: string): Promise<void> {
  for (let round = 0; round < 3; round++) {
    const points = mountsUnder(dir);
    if (!points.length) return;
    for (const p of points) {
      const r = await tryRun`umount ${p}`;
      if (r.code !== 0) await tryRun`umount -l ${p}`;
    }
  }
  const left = mountsUnder(dir);
  if (left.length)
    throw new ProviderError(
      `could not unmount ${left.join(', ')}`,
      'check `findmnt -R ' + dir + '` and unmount by hand',
    );
}

/** rm -rf that refuses to cross into mounts (unmounts them first). */
export async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  await unmountAll(dir);
  rmSync(dir, { recursive: true, force: true });
}
