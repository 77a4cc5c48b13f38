#!/usr/bin/env node
// pgha: inventory in, verified HA PostgreSQL cluster out. This file only wires the parsed command line to the
// commands, prints the result, and maps errors to exit codes: 0 ok, 1 a run or check failed, 2 bad input
// (and 3 for `plan --exit-code` with changes pending).
import { mask } from '../engine/mask.js';
import { type EventSink, errorJson, exitCodeOf, formatError, makeOut, outputMode } from './output.js';
import type { Invocation } from './program.js';
import { commandSpecs, parseArgv } from './parse.js';
import type { GlobalOptions } from './session.js';
import { openEventLog } from './logfile.js';
import { recapOf } from './recap.js';
import { exitAfterFlush } from './exit.js';
import type { Shell } from './commands/completion.js';

// Each command's module (and what it needs: the components, SSH, a provider's client) is loaded only when that
// command runs, so `pgha --version` or `pgha validate` start without the code of the others.
let sink: EventSink | undefined;

/** Runs the command; its JSON-able result and exit code. */
async function dispatch({ command, args, opts }: Invocation): Promise<{ result: unknown; code: number }> {
  const { resolveInventory } = await import('./session.js');
  const g: GlobalOptions = {
    inventory: resolveInventory(opts.inventory, command),
    limit: opts.limit,
    json: Boolean(opts.json),
    verbose: opts.verbose ?? 0,
  };
  const out = makeOut(outputMode(g.json), g.verbose, command === 'plan' || Boolean(opts.diff), sink);
  out.record({ event: 'start', command, args, inventory: g.inventory, limit: g.limit });
  const ok = async (result: Promise<unknown> | unknown) => ({ result: await result, code: 0 });
  switch (command) {
    case 'up':
      return ok((await import('./commands/up.js')).up(g, out, opts));
    case 'plan':
      return (await import('./commands/plan.js')).plan(g, out, opts);
    case 'run':
      return ok((await import('./commands/run.js')).run(g, out, args[0], opts));
    case 'verify':
      return ok((await import('./commands/verify.js')).verify(g, out));
    case 'status':
      return ok((await import('./commands/status.js')).status(g, out, opts));
    case 'validate':
      return ok((await import('./commands/validate.js')).validate(g, out, opts));
    case 'remove':
      return ok((await import('./commands/remove.js')).remove(g, out, args[0], opts));
    case 'destroy':
      return ok((await import('./commands/destroy.js')).destroy(g, out, opts));
    case 'rebuild':
      return ok((await import('./commands/rebuild.js')).rebuild(g, out, opts));
    case 'switchover':
      return ok((await import('./commands/switchover.js')).switchover(g, out, opts));
    case 'failover':
      return ok((await import('./commands/failover.js')).failover(g, out, { ...opts, to: opts.to! }));
    case 'restart':
      return ok((await import('./commands/restart.js')).restart(g, out, opts));
    case 'reinit':
      return ok((await import('./commands/reinit.js')).reinit(g, out, args[0]!, opts));
    case 'rotate-secrets':
      return ok((await import('./commands/rotate-secrets.js')).rotateSecrets(g, out, args as string[], opts));
    case 'restore':
      return ok((await import('./commands/restore.js')).restore(g, out, opts));
    case 'backup':
      return ok((await import('./commands/backup.js')).backupNow(g, out, opts));
    case 'backups':
      return ok((await import('./commands/backup.js')).listBackups(g, out));
    case 'lab up':
      return ok((await import('./commands/lab.js')).lab(g, out, 'up'));
    case 'lab down':
      return ok((await import('./commands/lab.js')).lab(g, out, 'down', opts));
    default:
      throw new Error(`no handler for ${command}`);
  }
}

async function main(argv: string[]): Promise<number> {
  let json = argv.includes('--json');
  let verbose = 0;
  const print = (doc: unknown) => process.stdout.write(mask(JSON.stringify(doc, null, 2)) + '\n');
  try {
    const parsed = parseArgv(argv);
    if (parsed.kind === 'exit') {
      process.stdout.write(parsed.stdout);
      return parsed.code;
    }
    const inv = parsed.invocation;
    if (inv.command === 'completion') {
      const { completion, playbookNames } = await import('./commands/completion.js');
      process.stdout.write(completion(inv.args[0] as Shell, { specs: commandSpecs(), playbooks: playbookNames() }));
      return 0;
    }
    if (inv.command === 'import ansible') {
      const { importCommand } = await import('./commands/import.js');
      const result = importCommand(inv.args[0], inv.opts);
      if (inv.opts.json) print(result);
      return 0;
    }
    json = Boolean(inv.opts.json);
    verbose = inv.opts.verbose ?? 0;
    if (inv.opts.logFile) sink = openEventLog(inv.opts.logFile);
    const { result, code } = await dispatch(inv);
    sink?.write({ event: 'result', exitCode: code, result });
    if (json) print(result);
    return code;
  } catch (e) {
    const code = exitCodeOf(e);
    const recap = recapOf(e);
    sink?.write({ event: 'error', exitCode: code, error: errorJson(e), recap });
    if (json) print({ ok: false, error: errorJson(e), ...(recap ? { recap } : {}) });
    else {
      const usage = (e as { usage?: string }).usage;
      if (usage) process.stderr.write(usage + '\n');
      process.stderr.write(formatError(e, verbose > 0) + '\n');
    }
    return code;
  }
}

// Ctrl-C (or a TERM from a supervisor): stop at once, say what that means, and leave no lock behind (the exit
// handlers release it). Remote commands in flight end with their SSH session or finish on their own; a re-run
// picks up from what the hosts show (interrupted package installs included).
for (const [sig, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.once(sig, () => {
    process.stderr.write(`\npgha: interrupted (${sig}); the hosts may be partly changed: run it again to converge\n`);
    sink?.write({ event: 'interrupted', signal: sig, exitCode: code });
    if (process.argv.includes('--json'))
      process.stdout.write(JSON.stringify({ ok: false, error: { type: 'Interrupted', signal: sig } }) + '\n');
    process.exit(code);
  });
}

main(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (e) => {
    process.stderr.write(`pgha: internal error: ${(e as Error)?.stack ?? e}\n`);
    exitAfterFlush(1);
  },
);
