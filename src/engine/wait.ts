// Bounded waits: every check polls with a deadline, never forever.

export interface WaitOptions<T = unknown> {
  timeoutMs: number;
  /** Give up before the deadline when this says waiting longer cannot help. */
  stop?: (value: T) => boolean;
  intervalMs?: number;
  /** Shown in the error when the deadline passes. */
  what?: string;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls fn until it returns { ok: true }. Returns the last result either way; the caller turns a
 * failure into a CheckError with its own expected/actual text.
 */
export async function waitFor<T>(
  fn: () => Promise<{ ok: boolean; value: T }>,
  opts: WaitOptions<T>,
): Promise<{ ok: boolean; value: T; elapsedMs: number }> {
  const start = Date.now();
  const interval = opts.intervalMs ?? 500;
  for (;;) {
    let res: { ok: boolean; value: T };
    try {
      res = await fn();
    } catch (e) {
      res = { ok: false, value: e as T };
    }
    const elapsedMs = Date.now() - start;
    if (res.ok || elapsedMs + interval > opts.timeoutMs || opts.stop?.(res.value)) return { ...res, elapsedMs };
    await sleep(interval);
  }
}
