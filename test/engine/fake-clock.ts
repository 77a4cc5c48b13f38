// A clock for tests: sleeping advances it at once (no real waiting) and is recorded.
import { afterEach, beforeEach } from 'vitest';
import { setClock, type Clock } from '../../src/engine/wait.js';

export interface FakeClock extends Clock {
  /** Every sleep asked for, in ms, in order. */
  readonly sleeps: number[];
  /** Total time slept. */
  slept(): number;
}

export function fakeClock(start = 1_700_000_000_000): FakeClock {
  let t = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => t,
    async sleep(ms) {
      sleeps.push(ms);
      t += ms;
      await new Promise<void>((r) => setImmediate(r)); // let other work run, as a real sleep would
    },
    slept: () => sleeps.reduce((a, b) => a + b, 0),
  };
}

/** Installs a fresh fake clock around each test of the calling file; `current()` is the one in use. */
export function useFakeClock(): { current: () => FakeClock } {
  let c = fakeClock();
  let prev: Clock | undefined;
  beforeEach(() => {
    c = fakeClock();
    prev = setClock(c);
  });
  afterEach(() => {
    if (prev) setClock(prev);
  });
  return { current: () => c };
}
