// How a script runs on a host. The command line is always the same few words, with nothing of the script in it:
//
//   LC_ALL=C.UTF-8 [sudo -n] timeout -k 5 <seconds> sh -s
//
// and the script travels on stdin, so neither it nor what it holds (file contents, passwords) shows in the
// host's process list, in sudo's log or in the journal. On stdin it is one compound command:
//
//   {
//   <script>
//   } </dev/null                        (no data for the script)
//   } <<'PGHA_IN_<random>'              (data for the script: its stdin is a here-document)
//   <data>
//   PGHA_IN_<random>
//
// The shell reads the whole compound command before running any of it, so a script cut short never runs half,
// and a command in the script that reads its stdin reads the data (or nothing), never the rest of the script.
// A here-document ends with a newline: data without a final newline gets one.
//
// `timeout` ends the script on the host when the run's time for it is over: it runs it in a process group of
// its own and signals the whole group (SIGTERM, then SIGKILL 5 s later), so no process of the script outlives
// it. It exits 124 (137 after the SIGKILL) when it did.
import { randomBytes } from 'node:crypto';

export interface RemoteInvocation {
  /** The command line (the same for every script but for the time limit). */
  command: string;
  /** What the command reads on stdin: the script, and the script's data. */
  input: string;
}

/** Seconds between timeout's SIGTERM and its SIGKILL. */
export const KILL_AFTER_SEC = 5;

/** Exit codes of `timeout` when it ended the script. */
export const TIMED_OUT_CODES = [124, 128 + 9];

export function timeoutSeconds(timeoutMs: number): number {
  return Math.max(1, Math.ceil(timeoutMs / 1000));
}

export function remoteInvocation(
  script: string,
  opts: { stdin?: string; timeoutMs: number; sudo: boolean },
): RemoteInvocation {
  const sh = `timeout -k ${KILL_AFTER_SEC} ${timeoutSeconds(opts.timeoutMs)} sh -s`;
  const command = `LC_ALL=C.UTF-8 ${opts.sudo ? `sudo -n ${sh}` : sh}`;
  if (opts.stdin === undefined) return { command, input: `{\n${script}\n} </dev/null\n` };
  const data = opts.stdin.endsWith('\n') || opts.stdin === '' ? opts.stdin : `${opts.stdin}\n`;
  let end: string;
  do end = `PGHA_IN_${randomBytes(8).toString('hex')}`;
  while (data.includes(end) || script.includes(end));
  return { command, input: `{\n${script}\n} <<'${end}'\n${data}${end}\n` };
}
