// What the commands of the command line share: the options every inventory command takes, help texts, examples.
import type { Command } from 'commander';

export const EXIT_CODES = 'Exit codes: 0 ok, 1 a run or check failed, 2 bad input.';

export function examples(lines: string[], extra = ''): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n\n${extra ? `${extra}\n` : ''}${EXIT_CODES}`;
}

export const increase = (_: string, n: number) => n + 1;
export const collect = (v: string, list: string[] = []) => [...list, v];

/** The options every command that reads an inventory takes. */
export function common(cmd: Command, what: { limit?: boolean; logFile?: boolean } = {}): Command {
  cmd.option('-i, --inventory <file>', 'inventory (default: $PGHA_INVENTORY, else inventory/lab.yml)');
  if (what.limit !== false) cmd.option('-l, --limit <hosts>', 'only these hosts or groups (comma-separated)');
  cmd.option('--json', 'one JSON document on stdout (progress goes to stderr)');
  cmd.option(
    '-v, --verbose',
    'more detail; -vv also prints every remote script as it is sent (secrets masked)',
    increase,
    0,
  );
  if (what.logFile !== false)
    cmd.option('--log-file <file>', 'append every event as JSON lines to FILE (secrets masked)');
  return cmd;
}

export const CHECK = 'change nothing, report what would change';
export const YES = 'do not ask: confirm removing or stopping what is listed';
export const DIFF = 'show unified diffs of changed files (secrets masked)';
