// inotify limits of the control machine. Every lab host runs its own systemd (and its services), and all of them
// count against the same user's inotify limits on the control machine: at the default
// fs.inotify.max_user_instances (128) hosts past about 20 fail at boot ("Failed to create control group inotify
// object: Too many open files"). Before booting, the lab raises the limits to what its hosts need, never lowering
// them, or refuses with the sysctl command to run.
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { UserError } from '../../util/errors.js';

/**
 * What one booted lab host holds, with headroom. Measured on Debian 12 hosts of the lab (2026-11-30): 8 inotify
 * instances and 27-28 watches per host, both for a bare host (sshd only) and a converged cluster member
 * (PostgreSQL, Patroni, etcd or HAProxy, keepalived). Planned higher for what systemd opens while it boots.
 */
export const PER_HOST = { instances: 12, watches: 100 };
/** Kept free besides the lab, for whatever else starts on the control machine. */
export const HEADROOM = { instances: 64, watches: 4096 };

export interface InotifyCounts {
  instances: number;
  watches: number;
}

const KEYS = { instances: 'fs/inotify/max_user_instances', watches: 'fs/inotify/max_user_watches' } as const;

/** The current limits, read under a /proc/sys root. */
export function readLimits(sysRoot = '/proc/sys'): InotifyCounts {
  const read = (k: string) => {
    const n = Number.parseInt(readFileSync(`${sysRoot}/${k}`, 'utf8').trim(), 10);
    if (!Number.isInteger(n)) throw new UserError(`cannot read ${sysRoot}/${k}`);
    return n;
  };
  return { instances: read(KEYS.instances), watches: read(KEYS.watches) };
}

/** inotify instances and watches open now, over every process under a /proc root (all users: an upper bound). */
export function inotifyInUse(procRoot = '/proc'): InotifyCounts {
  let instances = 0;
  let watches = 0;
  let pids: string[];
  try {
    pids = readdirSync(procRoot).filter((n) => /^\d+$/.test(n));
  } catch {
    return { instances, watches };
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`${procRoot}/${pid}/fd`);
    } catch {
      continue; // gone, or not ours to read
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`${procRoot}/${pid}/fd/${fd}`) !== 'anon_inode:inotify') continue;
        instances++;
        const info = readFileSync(`${procRoot}/${pid}/fdinfo/${fd}`, 'utf8');
        watches += info.split('\n').filter((l) => l.startsWith('inotify wd:')).length;
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return { instances, watches };
}

export interface LimitChange {
  key: 'instances' | 'watches';
  sysctl: string;
  from: number;
  to: number;
}

export const sysctlName = (key: keyof InotifyCounts) => KEYS[key].replace(/\//g, '.');

/**
 * The limits needed to boot `toBoot` more hosts while `inUse` are open: in use + per host + headroom, rounded up
 * to a multiple of 64 (instances) or 1024 (watches). Only raises: a limit already high enough gives no change.
 */
export function plannedChanges(limits: InotifyCounts, inUse: InotifyCounts, toBoot: number): LimitChange[] {
  if (toBoot <= 0) return [];
  const out: LimitChange[] = [];
  for (const key of ['instances', 'watches'] as const) {
    const step = key === 'instances' ? 64 : 1024;
    const need = Math.ceil((inUse[key] + toBoot * PER_HOST[key] + HEADROOM[key]) / step) * step;
    if (need > limits[key]) out.push({ key, sysctl: sysctlName(key), from: limits[key], to: need });
  }
  return out;
}

const what = (key: keyof InotifyCounts) => (key === 'instances' ? 'instances' : 'watches');

/** Why a change is needed, in words, for the progress line and the error. */
export function describe(c: LimitChange, inUse: InotifyCounts, toBoot: number): string {
  return (
    `${c.sysctl} ${c.from} -> ${c.to}: ${toBoot} lab host${toBoot === 1 ? '' : 's'} to boot, about ` +
    `${PER_HOST[c.key]} inotify ${what(c.key)} each (systemd and its services), ${inUse[c.key]} in use now`
  );
}

/**
 * Raises the inotify limits under `sysRoot` so that `toBoot` more hosts can boot; logs each change. Throws a
 * UserError, before anything boots, when a limit is too low and cannot be written (not root, read-only /proc/sys).
 */
export function ensureInotifyLimits(
  toBoot: number,
  log: (line: string) => void,
  opts: { sysRoot?: string; procRoot?: string; check?: boolean } = {},
): LimitChange[] {
  const sysRoot = opts.sysRoot ?? '/proc/sys';
  const limits = readLimits(sysRoot);
  const inUse = inotifyInUse(opts.procRoot ?? '/proc');
  const changes = plannedChanges(limits, inUse, toBoot);
  for (const c of changes) {
    if (opts.check) {
      log(`would raise ${describe(c, inUse, toBoot)}`);
      continue;
    }
    const file = `${sysRoot}/${KEYS[c.key]}`;
    let failure: string | undefined;
    try {
      writeFileSync(file, `${c.to}\n`);
      const now = readLimits(sysRoot)[c.key];
      if (now < c.to) failure = `it reads ${now} after writing ${c.to}`;
    } catch (e) {
      failure = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    }
    if (failure)
      throw new UserError(
        `${c.sysctl} is ${c.from}, too low for the lab: ${toBoot} host${toBoot === 1 ? '' : 's'} to boot need about ` +
          `${c.to} (${PER_HOST[c.key]} inotify ${what(c.key)} per host, ${inUse[c.key]} in use now), and ${file} ` +
          `cannot be written (${failure}). Hosts past the limit would fail at boot with "Too many open files"`,
        `as root on the control machine: sysctl -w ${c.sysctl}=${c.to} ` +
          `(to keep it: echo ${c.sysctl}=${c.to} > /etc/sysctl.d/60-pgha-lab.conf), then run pgha again`,
      );
    log(`raised ${describe(c, inUse, toBoot)}`);
  }
  return changes;
}
