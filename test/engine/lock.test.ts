import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireLock } from '../../src/engine/lock.js';
import { UserError } from '../../src/engine/errors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'pgha-lock-'));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** Another process holding the lock (as a run of another pgha would): resolves once it holds it. */
function holdInOtherProcess(file: string): Promise<ChildProcess> {
  const c = spawn('flock', ['-xF', file, 'sh', '-c', 'echo locked; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
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
      expect(e.message).toMatch(new RegExp(`another pgha run \\(pid ${process.pid}, "run0", since \\d{4}-\\d\\d-\\d\\dT`));
    }
    held[0]!();
    const again = acquireLock(f, 'after');
    expect(JSON.parse(readFileSync(f, 'utf8')).what).toBe('after');
    again();
    expect(readFileSync(f, 'utf8')).toBe('');
  });

  it('is refused while another process holds it, and free once that process is gone', async () => {
    const f = join(tmp(), 'lock');
    writeFileSync(f, JSON.stringify({ pid: 4242, what: 'up', since: '2026-01-01T00:00:00.000Z' }));
    const other = await holdInOtherProcess(f);
    expect(() => acquireLock(f, 'plan')).toThrow(/another pgha run \(pid 4242, "up", since 2026-01-01T00:00:00\.000Z\) holds the lock/);
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
});
