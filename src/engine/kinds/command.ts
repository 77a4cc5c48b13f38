// command: runs when its `unless` test fails or its `creates` path is missing (no guard: runs every time, which
// a step should avoid).
import type { Notify } from '../types.js';
import { mask } from '../mask.js';
import { argvToShell, shq } from '../quote.js';
import type { Kind } from './kind.js';

export interface CommandResource {
  kind: 'command';
  /** What the command is for, shown in plan and logs. */
  label: string;
  /** argv (POSIX-quoted by the engine) or a shell script; exactly one. */
  argv?: string[];
  script?: string;
  /** Skip when this read-only shell test succeeds (exit 0) on the host. */
  unless?: string;
  /** The `unless` test prints what differs, a line each: plan names those lines (masked) after the label. */
  explain?: boolean;
  /** Skip when this path exists on the host. */
  creates?: string;
  /** Values masked wherever the command or its output is shown. */
  secrets?: string[];
  notify?: Notify[];
  stdin?: string;
  timeoutMs?: number;
}

export interface CommandProbe {
  kind: 'command';
  run: boolean;
  /** What the `unless` test printed (explain). */
  notes?: string[];
}
export type CommandOp = { op: 'run' };

const shell = (r: CommandResource) => (r.argv ? argvToShell(r.argv) : (r.script ?? ''));

/** The first lines of a command, masked (plan shows what would run, not pages of script). */
function commandPreview(cmd: string, lines = 4): string {
  const all = mask(cmd).split('\n');
  return `$ ${all.slice(0, lines).join('\n  ')}${all.length > lines ? `\n  ... (${all.length - lines} more lines)` : ''}`;
}

export const commandKind: Kind<CommandResource, CommandProbe, CommandOp> = {
  kind: 'command',
  describe: (r) => `command: ${r.label}`,
  identity: (r) => `cmd ${r.creates ?? ''}\0${r.unless ?? ''}${r.explain ? '\0explain' : ''}`,
  tags: 'C',
  probe(r, i) {
    const tests: string[] = [];
    if (r.creates) tests.push(`[ -e ${shq(r.creates)} ]`);
    if (r.unless && r.explain) tests.push(`pgha_c${i}=$( ( ${r.unless}\n) 2>/dev/null )`);
    else if (r.unless) tests.push(`( ${r.unless}\n) >/dev/null 2>&1`);
    if (tests.length === 0) return `echo "C ${i} run"`;
    const notes = r.unless && r.explain ? `; printf '%s\\n' "$pgha_c${i}" | sed '/^$/d; s/^/C ${i} note /'` : '';
    return `if ${tests.join(' || ')}; then echo "C ${i} skip"; else echo "C ${i} run"${notes}; fi`;
  },
  unprobed: () => ({ kind: 'command', run: true }),
  read(p, tag, rest) {
    if (tag !== 'C') return;
    if (rest.startsWith('note ')) p.notes = [...(p.notes ?? []), rest.slice(5)];
    else p.run = rest.split(' ')[0] === 'run';
  },
  plan: (r, p, withDiff) =>
    p.run
      ? {
          summary: `run: ${r.label}${p.notes?.length ? `: ${mask(p.notes.join(', '))}` : ''}`,
          ops: [{ op: 'run' }],
          diff: withDiff ? commandPreview(shell(r)) : undefined,
        }
      : undefined,
  script: (r) => shell(r),
  exec: (r) => ({ timeoutMs: r.timeoutMs || undefined, secrets: r.secrets, stdin: r.stdin }),
};
