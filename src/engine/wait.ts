// Bounded waits: every check polls with a deadline, never forever.
import { PrefetchMiss, inReplay } from './replay.js';

export interface WaitOptions<T = unknown> {
  timeoutMs: number;
  /** Give up before the deadline when this says waiting longer cannot help. */
  stop?: (value: T) => boolean;
  intervalMs?: number;
  /** Shown in the error when the deadline passes. */
  what?: string;
}

/** Time as the waits see it: the real clock, or one a test controls. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise<void>((r) => setTimeout(r, ms)),
};

let clock: Clock = realClock;

/** Replaces the clock every wait uses; returns the one it replaced (so it can be put back). */
export function setClock(c: Clock): Clock {
  const prev = clock;
  clock = c;
  return prev;
}

export const now = () => clock.now();
/** A wait for time to pass; in an attempt against a prefetched read (./replay.ts) time cannot change that read: the attempt ends. */
export const sleep = (ms: number) => {
  if (inReplay()) return Promise.reject(new PrefetchMiss(`a wait of ${ms} ms`));
  return clock.sleep(ms);
};

/**
 * Polls fn until it returns { ok: true }. Returns the last result either way; the caller turns a
 * failure into a CheckError with its own expected/actual text.
 */
export async function waitFor<T>(
  fn: () => Promise<{ ok: boolean; value: T }>,
  opts: WaitOptions<T>,
): Promise<{ ok: boolean; value: T; elapsedMs: number }> {
  const start = now();
  const interval = opts.intervalMs ?? 500;
  for (;;) {
    let res: { ok: boolean; value: T };
    try {
      res = await fn();
    } catch (e) {
      res = { ok: false, value: e as T };
    }
    const elapsedMs = now() - start;
    if (res.ok || elapsedMs + interval > opts.timeoutMs || opts.stop?.(res.value)) return { ...res, elapsedMs };
    await sleep(interval);
  }
}
