// Checks answered from the read made at the start of a run (see ./prefetch.ts). A step's verify, verifyGroup,
// before and order are run as they are, against transports that answer each read-only script from that read:
// the same code judges the same conditions, on the state the run found. A script the read did not run goes to the
// host (and the caller reads every later step again, as after a change). A wait that wants time to pass, or a
// question to the user, ends the attempt: the caller runs the hook again against the hosts, as without a prefetch.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ExecOptions, ExecResult, Transport } from './types.js';
import { addSecret, mask } from './mask.js';

/** Thrown inside an attempt when the read cannot answer; never seen outside one. */
export class PrefetchMiss extends Error {
  constructor(readonly what: string) {
    super(`not in the prefetched read: ${what}`);
    this.name = 'PrefetchMiss';
  }
}

const replaying = new AsyncLocalStorage<true>();

/** Whether the code running now is an attempt against the prefetched read. */
export function inReplay(): boolean {
  return replaying.getStore() === true;
}

/** A host's scripts and what they printed (stdout/stderr trimmed, as an SSH exec gives them). */
export type ReadResults = Map<string, ExecResult>;

/** A Transport answering from the read (no round trip); a script it has no answer for runs on the host. */
export class ReplayTransport implements Transport {
  constructor(
    private readonly real: Transport,
    private readonly reads: ReadResults,
    /** Called before a script runs on the host. */
    private readonly onLive: () => void,
  ) {}

  get host() {
    return this.real.host;
  }

  get roundTrips(): number {
    return this.real.roundTrips;
  }

  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    for (const s of opts.secrets ?? []) addSecret(s);
    const r = opts.stdin === undefined ? this.reads.get(script) : undefined;
    if (r) return { ...r };
    if (process.env.PGHA_TRACE_PREFETCH)
      process.stderr.write(
        mask(`pgha: not in the read, run on ${this.host.name}: ${script.split('\n')[0]!.slice(0, 120)}\n`),
      );
    this.onLive();
    return this.real.exec(script, opts);
  }

  async close(): Promise<void> {}
}

/**
 * Runs `fn` as an attempt against the read: resolves to its value, or to undefined when it threw (a failed
 * check, a miss): then the caller runs the hook for real. Lines it logs are kept until it succeeded.
 */
export async function attempt<T>(
  fn: (log: (line: string) => void) => Promise<T>,
  flush: (line: string) => void,
): Promise<{ value: T } | undefined> {
  const lines: string[] = [];
  try {
    const value = await replaying.run(true, () => fn((l) => lines.push(l)));
    lines.forEach(flush);
    return { value };
  } catch (e) {
    // PGHA_TRACE_PREFETCH=1: say why a check was not answered from the read (for step authors).
    if (process.env.PGHA_TRACE_PREFETCH) process.stderr.write(`pgha: from the read: ${(e as Error).message}\n`);
    return undefined;
  }
}
