// Start-up timing on request: with PGHA_TRACE_START=1 in the environment, the first time a named point is reached
// its time since Node started is written to stderr (used by bench/coldstart.ts). Off, it writes nothing.
const seen = new Set<string>();

export function traceMark(what: string, env: NodeJS.ProcessEnv = process.env): void {
  if (!env.PGHA_TRACE_START || seen.has(what)) return;
  seen.add(what);
  process.stderr.write(`pgha: ${what} at ${(process.uptime() * 1000).toFixed(1)} ms\n`);
}
