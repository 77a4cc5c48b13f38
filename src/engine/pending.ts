// Notifications that outlive a run. A changed file that asks for a restart or reload records that wish on the
// host (in the same round trip as the change, before it), and the record is removed only once the step has
// applied it and verified. A run that is killed, or fails, between the change and a working service leaves
// the record behind, and the next run does the restart or reload even though the file is already as wanted.
import type { FactSpec, Notify } from './types.js';
import { shq } from './quote.js';

/** Where the records live on a host (one file per service, holding "restart" or "reload"). */
export const PENDING_DIR = '/var/lib/pgha/notify';

/** Name of the fact the runner reads the records with (never a step's own fact name). */
export const PENDING_FACT = '@pending';

export type Pending = Map<string, Notify['action']>;

/** Shell lines that record notifications; a recorded restart is never weakened to a reload. */
export function recordScript(notify: Notify[], dir = PENDING_DIR): string {
  if (!notify.length) return '';
  const lines = [`mkdir -p ${shq(dir)}`];
  for (const n of notify) {
    const f = shq(`${dir}/${n.service}`);
    lines.push(
      n.action === 'restart' ? `echo restart > ${f}` : `[ "$(cat ${f} 2>/dev/null)" = restart ] || echo reload > ${f}`,
    );
  }
  return lines.join('\n');
}

export function pendingFact(dir = PENDING_DIR): FactSpec<Pending> {
  return {
    script: `for f in ${shq(dir)}/*; do [ -f "$f" ] && echo "\${f##*/} $(cat "$f")"; done`,
    parse(stdout: string): Pending {
      const out: Pending = new Map();
      for (const line of stdout.split('\n')) {
        const m = /^(\S+) (restart|reload)$/.exec(line.trim());
        if (m) out.set(m[1]!, m[2] as Notify['action']);
      }
      return out;
    },
  };
}

/** Removes the records of these services (after the step that handled them verified). */
export function clearScript(services: string[], dir = PENDING_DIR): string {
  return `rm -f ${services.map((s) => shq(`${dir}/${s}`)).join(' ')}`;
}
