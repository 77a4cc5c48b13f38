import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/engine/lock.js';
import { UserError } from '../../src/util/errors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'pgha-lock-'));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** Another process holding the lock (as a run of another pgha would): resolves once it holds it. */
function holdInOtherProcess(file: string): Promise<ChildProcess> {
  const c = spawn('flock', ['-xF', file, 'sh', '-c', 'echo locked; exec sleep 60'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(c);
  return new Promise((res, rej) => {
    c.stdout!.once('data', () => res(c));
    c.once('exit', (code) => rej(new Error(`flock exited ${code}`)));
  });
}

describe('run lock', () => {
  it('of many acquirers at once, exactly one holds it; the others are told who does', () => {
    const f = join(tmp(), 'lock');
    const outcomes = Array.from({ length: 6 }, (_, i) => {
      try {
        return acquireLock(f, `run${i}`);
      } catch (e) {
        return e as Error;
      }
    });
    const held = outcomes.filter((o) => typeof o === 'function') as (() => void)[];
    const refused = outcomes.filter((o) => o instanceof Error);
    expect(held).toHaveLength(1);
    expect(refused).toHaveLength(5);
    for (const e of refused) {
      expect(e).toBeInstanceOf(UserError);
      expect(e.message).toMatch(
        new RegExp(`another pgha run \\(pid ${process.pid}, "run0", since \\d{4}-\\d\\d-\\d\\dT`),
      );
    }
    held[0]!();
    const again = acquireLock(f, 'after');
    expect(JSON.parse(readFileSync(f, 'utf8')).what).toBe('after');
    again();
    expect(existsSync(f)).toBe(false);
  });

  it('is refused while another process holds it, and free once that process is gone', async () => {
    const f = join(tmp(), 'lock');
    writeFileSync(f, JSON.stringify({ pid: 4242, what: 'up', since: '2026-01-01T00:00:00.000Z' }));
    const other = await holdInOtherProcess(f);
    expect(() => acquireLock(f, 'plan')).toThrow(
      /another pgha run \(pid 4242, "up", since 2026-01-01T00:00:00\.000Z\) holds the lock/,
    );
    const gone = new Promise((res) => other.once('exit', res));
    other.kill('SIGKILL');
    await gone;
    const release = acquireLock(f, 'plan');
    expect(JSON.parse(readFileSync(f, 'utf8'))).toMatchObject({ pid: process.pid, what: 'plan' });
    release();
  });

  it('takes a lock file left by a dead holder (no lock on it), whatever the file says', () => {
    const f = join(tmp(), 'lock');
    writeFileSync(f, JSON.stringify({ pid: 2 ** 22 + 7, what: 'up', since: 'then' }));
    const release = acquireLock(f, 'up');
    expect(JSON.parse(readFileSync(f, 'utf8')).pid).toBe(process.pid);
    expect(() => acquireLock(f, 'up')).toThrow(UserError);
    release();
  });

  it('is refused to a second process while this one holds it', async () => {
    const f = join(tmp(), 'lock');
    const release = acquireLock(f, 'up');
    const code = await new Promise<number | null>((res) => spawn('flock', ['-xn', f, 'true']).once('exit', res));
    expect(code).toBe(1);
    release();
    const after = await new Promise<number | null>((res) => spawn('flock', ['-xn', f, 'true']).once('exit', res));
    expect(after).toBe(0);
  });

  it('a run that locked the file its holder then released and removed starts over on the new file', async () => {
    const f = join(tmp(), 'lock');
    // The holder: locks, then (while a waiter is blocked on the same file) removes it and lets go.
    const holderProc = spawn(
      'sh',
      ['-c', `exec 9>"$0"; flock -x 9; echo locked; read x; rm -f "$0"; exec 9>&-; sleep 60`, f],
      { stdio: ['pipe', 'pipe', 'ignore'] },
    );
    children.push(holderProc);
    await new Promise((res) => holderProc.stdout!.once('data', res));
    // A blocked waiter on the old file: once the holder lets go it locks a file that no longer has a name.
    const waiter = spawn('sh', ['-c', `exec 9<"$0"; echo opened; flock -x 9; echo got; sleep 60`, f], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(waiter);
    const lines: string[] = [];
    const saw = (word: string) =>
      new Promise<void>((res) => {
        const look = () =>
          lines.join('').includes(word) ? res() : waiter.stdout!.once('data', (d) => (lines.push(String(d)), look()));
        look();
      });
    await saw('opened');
    holderProc.stdin!.write('go\n');
    await saw('got');
    expect(existsSync(f)).toBe(false);
    // This run is not fooled: the lock of the unnamed file is not the lock of the path.
    const release = acquireLock(f, 'up');
    expect(JSON.parse(readFileSync(f, 'utf8')).what).toBe('up');
    release();
  });
});
