// Output: listr2 on a terminal, plain lines when not a TTY, one JSON document with --json.
// Errors are printed as what failed, where, and what to do next; a stack trace only with -v.
import type { Host } from '../inventory/types.js';
import type { Step } from '../engine/types.js';
import type { HostStepResult, RunEvents } from '../engine/runner.js';
import { CheckError, PghaError, RemoteError, RunError, UserError } from '../util/errors.js';
import { mask } from '../engine/mask.js';

export type OutputMode = 'tty' | 'plain' | 'json';

export function outputMode(json: boolean): OutputMode {
  if (json) return 'json';
  return process.stdout.isTTY && !process.env.CI ? 'tty' : 'plain';
}

export interface Out {
  mode: OutputMode;
  /** 0, 1 (-v) or 2 (-vv: every remote script too). */
  verbose: number;
  /** A line for humans (on stderr with --json, so stdout holds only the JSON document). */
  info(line: string): void;
  events: RunEvents;
  /** A remote script about to be sent (printed at -vv, logged to --log-file at -vv). */
  exec(host: string, script: string): void;
  /** An event for --log-file only. */
  record(event: Record<string, unknown>): void;
  /**
   * Runs a list of titled jobs (steps) with progress; the job may update its title. `concurrent`: the jobs run at
   * once (each waits on work a scheduler runs) and a failed one does not stop the others from settling.
   */
  jobs(
    list: { title: string; run: (setTitle: (t: string) => void) => Promise<void> }[],
    opts?: { concurrent?: boolean },
  ): Promise<void>;
}

/** Where --log-file events go (nowhere without the option). */
export interface EventSink {
  write(event: Record<string, unknown>): void;
}

function hostLine(r: HostStepResult): string {
  return `${r.host}: ${r.error ? 'FAILED' : r.reason}`;
}

export function makeOut(
  mode: OutputMode,
  verbose: number,
  showDiff: boolean,
  sink: EventSink = { write: () => undefined },
): Out {
  // With --json, stdout holds only the JSON document: progress goes to stderr, as plain lines.
  const stream = mode === 'json' ? process.stderr : process.stdout;
  const write = (l: string) => stream.write(mask(l) + '\n');
  const plain = mode !== 'tty';
  let taskOutput: ((l: string) => void) | undefined;
  const events: RunEvents = {
    stepStart: (step: Step, hosts: Host[]) => {
      sink.write({ event: 'step-start', step: step.id, title: step.title, hosts: hosts.map((h) => h.name) });
      if (plain)
        write(`== ${step.title} [${hosts.map((h) => h.name).join(', ')}]${step.serial ? ' (one host at a time)' : ''}`);
    },
    hostDone: (step, r) => {
      sink.write({
        event: 'host-done',
        step: step.id,
        host: r.host,
        reason: r.reason,
        changes: r.changes.map((c) => ({ summary: c.summary, diff: c.diff })),
        restarted: r.restarted,
        reloaded: r.reloaded,
        error: r.error ? errorJson(r.error) : undefined,
      });
      const lines: string[] = [];
      for (const c of r.changes) {
        lines.push(`${r.host}: ${c.summary}`);
        if (showDiff && c.diff)
          lines.push(
            ...c.diff
              .trimEnd()
              .split('\n')
              .map((d) => `    ${d}`),
          );
      }
      if (r.changes.length === 0 && !r.error && r.reason.endsWith('nothing to manage here')) return; // a check-only step
      if (plain) {
        lines.filter((l) => !/^ {4}/.test(l) || showDiff).forEach((l) => write(`  ${l}`));
        // Steps of other hosts run at the same time: the host's outcome names its step.
        write(`  ${hostLine(r)} [${step.id}]`);
      } else {
        if (showDiff) lines.forEach((l) => write(l));
        taskOutput?.(hostLine(r));
      }
    },
    stepDone: (step, results) => {
      sink.write({
        event: 'step-end',
        step: step.id,
        hosts: Object.fromEntries(
          results.map((r) => [r.host, r.error ? 'failed' : r.changes.length ? 'changed' : 'ok']),
        ),
      });
    },
    log: (line, host) => {
      sink.write({ event: 'log', host, line });
      if (mode === 'tty') taskOutput?.(line);
      // Step-level lines (a check's verdict) always; per-host detail with -v.
      else if (verbose || !host) write(`  ${line}`);
    },
  };
  return {
    mode,
    verbose,
    events,
    info: (l) => {
      sink.write({ event: 'info', line: l });
      write(l);
    },
    exec: (host, script) => {
      if (verbose < 2) return;
      sink.write({ event: 'exec', host, script });
      process.stderr.write(mask(`[${host}] $ ${script.trimEnd().split('\n').join('\n    ')}`) + '\n');
    },
    record: (e) => sink.write(e),
    async jobs(list, opts = {}) {
      if (mode !== 'tty') {
        if (opts.concurrent) await Promise.allSettled(list.map((j) => j.run(() => undefined)));
        else for (const j of list) await j.run(() => undefined);
        return;
      }
      const { Listr } = await import('listr2'); // only on a terminal
      await new Listr(
        list.map((j) => ({
          title: j.title,
          task: async (_: unknown, task: { title: string; output: string }) => {
            taskOutput = (l) => (task.output = mask(l));
            await j.run((t) => (task.title = t));
          },
        })),
        {
          exitOnError: !opts.concurrent,
          concurrent: Boolean(opts.concurrent),
          rendererOptions: { collapseErrors: true, showErrorMessage: false },
          fallbackRendererOptions: {},
        },
      ).run();
    },
  };
}

function indent(text: string, pad = '    '): string {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
}

/** Ports a log or command output says are taken by someone else ("Address already in use"). */
export function takenPorts(text: string): string[] {
  const ports = new Set<string>();
  for (const line of text.split('\n')) {
    if (!/already in use|another postmaster/i.test(line)) continue;
    // haproxy "[0.0.0.0:5001]", etcd/go "1.2.3.4:2379: bind:", PostgreSQL "running on port 5432", "port 8008 ... in use"
    // (not "[/etc/haproxy/haproxy.cfg:35]": a file and line)
    for (const m of line.matchAll(
      /\[(?:\d{1,3}(?:\.\d{1,3}){3}|\*|[0-9a-fA-F:]*):(\d+)\]|:(\d+): bind|on port (\d+)|[Pp]ort (\d+)/g,
    ))
      ports.add((m[1] ?? m[2] ?? m[3] ?? m[4])!);
  }
  return [...ports];
}

function portHint(host: string, text: string): string | undefined {
  const ports = takenPorts(text);
  if (!ports.length)
    return /address already in use/i.test(text)
      ? `a port this service needs is taken by another process on ${host}: find it with \`ss -ltnp\` there`
      : undefined;
  const s = ports.length > 1 ? 's' : '';
  return `port${s} ${ports.join(', ')} taken by another process on ${host} (Address already in use): find it with \`ss -ltnp '${ports.map((p) => `sport = :${p}`).join(' or ')}'\` there, stop it, then run pgha again`;
}

export function formatError(e: unknown, verbose: boolean): string {
  const out: string[] = [];
  const one = (err: Error, prefix = '') => {
    if (err instanceof CheckError) {
      out.push(
        `${prefix}${err.host}: check "${err.check}" failed`,
        `    expected: ${err.expected}`,
        `    actual:   ${err.actual}`,
      );
      if (err.logs) out.push('    last lines of the service log:', indent(err.logs, '      '));
    } else if (err instanceof RemoteError) {
      out.push(`${prefix}${err.message}`);
      if (err.detail) out.push(indent(err.detail));
    } else if (err instanceof UserError) {
      out.push(`${prefix}${err.message}`);
    } else {
      out.push(`${prefix}${err.message}`);
      if (verbose && err.stack) out.push(indent(err.stack));
    }
    if (err instanceof CheckError || err instanceof RemoteError) {
      const cause = portHint(
        err.host,
        err instanceof CheckError ? `${err.actual}\n${err.logs ?? ''}` : (err.detail ?? ''),
      );
      if (cause) out.push(`    cause: ${cause}`);
    }
    if ((err as PghaError).hint) out.push(`    next: ${(err as PghaError).hint}`);
  };
  if (e instanceof RunError) {
    out.push(`error: step ${e.step} failed on ${e.failures.length} host${e.failures.length > 1 ? 's' : ''}:`);
    for (const f of e.failures) one(f.error, '  ');
  } else if (e instanceof Error) {
    one(e, 'error: ');
  } else out.push(`error: ${String(e)}`);
  return mask(out.join('\n'));
}

export function exitCodeOf(e: unknown): number {
  return e instanceof PghaError ? e.exitCode : 1;
}

export function errorJson(e: unknown): Record<string, unknown> {
  if (e instanceof RunError)
    return {
      type: 'RunError',
      step: e.step,
      failures: e.failures.map((f) => ({ host: f.host, ...errorJson(f.error) })),
    };
  if (e instanceof CheckError)
    return {
      type: 'CheckError',
      host: e.host,
      check: e.check,
      expected: e.expected,
      actual: e.actual,
      logs: e.logs,
      hint: e.hint,
    };
  if (e instanceof PghaError)
    return {
      type: e.name,
      message: e.message,
      hint: e.hint,
      ...('detail' in e ? { detail: (e as { detail?: string }).detail } : {}),
      ...('where' in e ? { where: (e as UserError).where } : {}),
    };
  return { type: 'Error', message: (e as Error)?.message ?? String(e) };
}
