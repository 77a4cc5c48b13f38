// The inotify limits against a fake /proc/sys (and a fake /proc with inotify descriptors).
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  HEADROOM,
  PER_HOST,
  ensureInotifyLimits,
  inotifyInUse,
  plannedChanges,
  readLimits,
} from '../../../src/providers/lab/inotify.js';
import { UserError } from '../../../src/util/errors.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakeSys(instances: number, watches: number) {
  const d = mkdtempSync(join(tmpdir(), 'pgha-inotify-'));
  dirs.push(d);
  const sys = join(d, 'sys');
  mkdirSync(join(sys, 'fs', 'inotify'), { recursive: true });
  writeFileSync(join(sys, 'fs/inotify/max_user_instances'), `${instances}\n`);
  writeFileSync(join(sys, 'fs/inotify/max_user_watches'), `${watches}\n`);
  const proc = join(d, 'proc');
  mkdirSync(proc);
  return { d, sys, proc };
}

/** A fake process with `n` inotify descriptors of `w` watches each, and one ordinary file descriptor. */
function fakeProcess(proc: string, pid: number, n: number, w: number) {
  mkdirSync(join(proc, String(pid), 'fd'), { recursive: true });
  mkdirSync(join(proc, String(pid), 'fdinfo'), { recursive: true });
  symlinkSync('/dev/null', join(proc, String(pid), 'fd', '0'));
  for (let i = 0; i < n; i++) {
    const fd = String(3 + i);
    symlinkSync('anon_inode:inotify', join(proc, String(pid), 'fd', fd));
    const lines = Array.from({ length: w }, (_, k) => `inotify wd:${k + 1} ino:1 sdev:2 mask:3 ignored_mask:0`);
    writeFileSync(join(proc, String(pid), 'fdinfo', fd), ['pos:\t0', 'flags:\t00', ...lines, ''].join('\n'));
  }
}

const limit = (sys: string, k: string) => Number(readFileSync(join(sys, 'fs/inotify', k), 'utf8'));

describe('inotify limits', () => {
  it('counts inotify instances and watches of every process, not other descriptors', () => {
    const { proc } = fakeSys(128, 8192);
    fakeProcess(proc, 10, 2, 3);
    fakeProcess(proc, 11, 1, 5);
    fakeProcess(proc, 12, 0, 0);
    expect(inotifyInUse(proc)).toEqual({ instances: 3, watches: 11 });
  });

  it('plans in use + hosts x per host + headroom, rounded up, and never lowers a higher limit', () => {
    const inUse = { instances: 80, watches: 300 };
    const c = plannedChanges({ instances: 128, watches: 8192 }, inUse, 50);
    const need = 80 + 50 * PER_HOST.instances + HEADROOM.instances;
    const needW = 300 + 50 * PER_HOST.watches + HEADROOM.watches;
    expect(c).toEqual([
      { key: 'instances', sysctl: 'fs.inotify.max_user_instances', from: 128, to: Math.ceil(need / 64) * 64 },
      { key: 'watches', sysctl: 'fs.inotify.max_user_watches', from: 8192, to: Math.ceil(needW / 1024) * 1024 },
    ]);
    expect(plannedChanges({ instances: 4096, watches: 1 << 20 }, inUse, 50)).toEqual([]);
    expect(plannedChanges({ instances: 128, watches: 8192 }, inUse, 0)).toEqual([]);
  });

  it('raises the limit in the sysctl directory and says old -> new and why', () => {
    const { sys, proc } = fakeSys(128, 192536);
    fakeProcess(proc, 20, 8, 3);
    const lines: string[] = [];
    const changes = ensureInotifyLimits(50, (l) => lines.push(l), { sysRoot: sys, procRoot: proc });
    const want = Math.ceil((8 + 50 * PER_HOST.instances + HEADROOM.instances) / 64) * 64;
    expect(changes.map((c) => c.key)).toEqual(['instances']);
    expect(limit(sys, 'max_user_instances')).toBe(want);
    expect(limit(sys, 'max_user_watches')).toBe(192536);
    expect(lines).toEqual([
      `raised fs.inotify.max_user_instances 128 -> ${want}: 50 lab hosts to boot, about ${PER_HOST.instances} inotify instances each (systemd and its services), 8 in use now`,
    ]);
    // Enough now: a second call changes nothing.
    expect(ensureInotifyLimits(50, (l) => lines.push(l), { sysRoot: sys, procRoot: proc })).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(readLimits(sys)).toEqual({ instances: want, watches: 192536 });
  });

  it('in check mode says what it would raise and writes nothing', () => {
    const { sys, proc } = fakeSys(128, 192536);
    const lines: string[] = [];
    ensureInotifyLimits(20, (l) => lines.push(l), { sysRoot: sys, procRoot: proc, check: true });
    expect(lines[0]).toMatch(/^would raise fs\.inotify\.max_user_instances 128 -> \d+: 20 lab hosts to boot/);
    expect(limit(sys, 'max_user_instances')).toBe(128);
  });

  it('refuses with the sysctl command when the limit cannot be written', () => {
    const { sys, proc } = fakeSys(128, 192536);
    // A read-only sysctl (mode 0444; not even root may write it) stands in for a read-only /proc/sys.
    const readOnly = '/proc/sys/kernel/cap_last_cap';
    const value = Number(readFileSync(readOnly, 'utf8'));
    rmSync(join(sys, 'fs/inotify/max_user_instances'));
    symlinkSync(readOnly, join(sys, 'fs/inotify/max_user_instances'));
    const lines: string[] = [];
    let err: unknown;
    try {
      ensureInotifyLimits(50, (l) => lines.push(l), { sysRoot: sys, procRoot: proc });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    const e = err as UserError;
    const want = Math.ceil((50 * PER_HOST.instances + HEADROOM.instances) / 64) * 64;
    expect(e.message).toContain(`fs.inotify.max_user_instances is ${value}, too low for the lab: 50 hosts to boot`);
    expect(e.message).toContain('cannot be written (EACCES)');
    expect(e.hint).toContain(`sysctl -w fs.inotify.max_user_instances=${want}`);
    expect(lines).toEqual([]);
    expect(Number(readFileSync(readOnly, 'utf8'))).toBe(value);
  });
});
