// pgha plan: up --check --diff; with --exit-code, pending changes are an exit code of their own.
import type { GlobalOptions } from '../session.js';
import type { Out } from '../output.js';
import { runPlaybook } from '../playbook-run.js';
import { PLAN_CHANGES_EXIT } from '../program.js';

/** The exit code of a plan that ran: 0, or PLAN_CHANGES_EXIT with --exit-code when hosts or files would change. */
export function planExitCode(
  result: { provider: unknown[]; totals: { changes: number }; dropped?: unknown[] },
  exitCode: boolean,
): number {
  const pending = result.totals.changes > 0 || result.provider.length > 0 || (result.dropped?.length ?? 0) > 0;
  return exitCode && pending ? PLAN_CHANGES_EXIT : 0;
}

export async function plan(g: GlobalOptions, out: Out, o: { exitCode?: boolean }) {
  const result = await runPlaybook(g, out, 'cluster', { check: true, diff: true }, 'plan');
  return { result, code: planExitCode(result, Boolean(o.exitCode)) };
}
