// Drives one kind module on its own: its probe snippet run with sh, its lines read back, its apply scripts run.
import { execFileSync } from 'node:child_process';
import type { Kind } from '../../../src/engine/kinds/kind.js';
import type { ExecResult, Transport } from '../../../src/engine/types.js';

/** The user and group this test runs as (owner/group of the files it creates). */
export const ME = {
  user: execFileSync('id', ['-un'], { encoding: 'utf8' }).trim(),
  group: execFileSync('id', ['-gn'], { encoding: 'utf8' }).trim(),
};

/** Runs the probe of resource `r` (as number 3 of a batch) and reads its lines into the kind's state. */
export async function probeOne<R extends { kind: string }, P extends { kind: R['kind'] }, O extends { op: string }>(
  kind: Kind<R, P, O>,
  t: Transport,
  r: R,
  withContent = false,
): Promise<{ state: P; stdout: string }> {
  const { stdout, code } = await t.exec(kind.probe(r, 3, withContent));
  if (code !== 0) throw new Error(`probe exited ${code}`);
  const state = kind.unprobed();
  for (const line of stdout.split('\n')) {
    const m = /^(\S) (\d+) ?(.*)$/.exec(line);
    if (m && m[2] === '3') kind.read(state, m[1]!, m[3]!);
  }
  return { state, stdout };
}

/** Runs the apply script of each planned op, the way apply does (its exec options), stopping at a failure. */
export async function applyOps<R extends { kind: string }, P extends { kind: R['kind'] }, O extends { op: string }>(
  kind: Kind<R, P, O>,
  t: Transport,
  r: R,
  ops: O[],
  backupDir?: string,
): Promise<ExecResult[]> {
  const out: ExecResult[] = [];
  for (const op of ops) {
    const res = await t.exec(kind.script(r, op, { backupDir }), kind.exec?.(r, op));
    out.push(res);
    if (res.code !== 0) break;
  }
  return out;
}
