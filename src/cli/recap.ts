// The run summary per host at the end of up / plan / run / verify: host-steps ok (changed included), changed,
// failed, and whether the host could not be reached at all.
import type { HostStepResult } from '../engine/runner.js';

export interface HostRecap {
  ok: number;
  changed: number;
  failed: number;
  unreachable: number;
}

export type Recap = Record<string, HostRecap>;

/** `hosts`: every host the run was for, in inventory order; `unreachable`: hosts that failed to connect. */
export function computeRecap(hosts: string[], results: HostStepResult[], unreachable: string[] = []): Recap {
  const recap: Recap = {};
  for (const h of hosts) recap[h] = { ok: 0, changed: 0, failed: 0, unreachable: 0 };
  for (const r of results) {
    const x = (recap[r.host] ??= { ok: 0, changed: 0, failed: 0, unreachable: 0 });
    if (r.error) x.failed++;
    else {
      x.ok++;
      if (r.changes.length) x.changed++;
    }
  }
  for (const h of unreachable) (recap[h] ??= { ok: 0, changed: 0, failed: 0, unreachable: 0 }).unreachable = 1;
  return recap;
}

export function formatRecap(recap: Recap): string {
  const names = Object.keys(recap);
  if (!names.length) return 'recap: no hosts';
  const w = Math.max(...names.map((n) => n.length));
  return [
    'recap:',
    ...names.map((n) => {
      const r = recap[n];
      return `  ${n.padEnd(w)}  ok=${r.ok}  changed=${r.changed}  failed=${r.failed}  unreachable=${r.unreachable}`;
    }),
  ].join('\n');
}

const attached = new WeakMap<object, Recap>();

/** Keeps the recap of a run that failed with `e`, for the error output. */
export function attachRecap<E>(e: E, recap: Recap): E {
  if (e && typeof e === 'object') attached.set(e, recap);
  return e;
}

export function recapOf(e: unknown): Recap | undefined {
  return e && typeof e === 'object' ? attached.get(e) : undefined;
}
