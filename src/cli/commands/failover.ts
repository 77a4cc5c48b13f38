// pgha failover --to HOST: promote a replica when the cluster has no healthy leader (otherwise: switchover).
import type { GlobalOptions } from '../session.js';
import type { Out } from '../output.js';
import { confirmAction, finish, showBefore, onAnsweringMember, openClusterCommand } from '../cluster-command.js';
import { failoverTarget, readClusterView } from '../../components/patroni/switchover.js';
import { switchoverScript } from '../../components/patroni/restart.js';

export async function failover(g: GlobalOptions, out: Out, opts: { to: string; yes?: boolean }) {
  const c = await openClusterCommand(g, out, 'failover');
  let done = false;
  try {
    const before = await showBefore(c, out);
    const v = await readClusterView(c.ctx);
    const candidate = failoverTarget(c.ctx, v, opts.to);
    await confirmAction(
      'pgha failover',
      [{ host: candidate.name, summary: 'is promoted to leader (there is no running leader)' }],
      [
        `writes the old leader acknowledged but ${candidate.name} had not received (lag ${candidate.lag ?? 'unknown'} bytes) are lost`,
      ],
      Boolean(opts.yes),
    );
    const r = await onAnsweringMember(
      c,
      (port) => switchoverScript(port, { action: 'failover', candidate: candidate.name }),
      'failover',
      240_000,
    );
    out.info(`failover through ${r.host}: ${r.stdout.split('\n').join('; ')}`);
    done = true;
    const { after } = await finish(g, out, c);
    return { ok: true, to: candidate.name, before: before.members, after };
  } finally {
    if (!done) await c.s.close();
  }
}
