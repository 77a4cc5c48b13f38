// pgha switchover [--to HOST]: hand the leader role from a healthy leader to a healthy replica (the synchronous
// standby unless --to names another), then verify the cluster.
import type { GlobalOptions } from '../session.js';
import type { Out } from '../output.js';
import { confirmAction, finish, showBefore, onAnsweringMember, openClusterCommand } from '../cluster-command.js';
import { readClusterView, switchoverTarget } from '../../components/patroni/switchover.js';
import { switchoverScript } from '../../components/patroni/restart.js';

export async function switchover(g: GlobalOptions, out: Out, opts: { to?: string; yes?: boolean }) {
  const c = await openClusterCommand(g, out, 'switchover');
  let done = false;
  try {
    const before = await showBefore(c, out);
    const v = await readClusterView(c.ctx);
    const { leader, candidate } = switchoverTarget(c.ctx, v, opts.to);
    await confirmAction(
      'pgha switchover',
      [
        { host: leader.name, summary: `steps down as leader and runs on as a replica of ${candidate.name}` },
        { host: candidate.name, summary: 'becomes the leader' },
      ],
      [
        `sessions on the primary ${leader.name} are cut; writes through the primary port fail for a few seconds until ${candidate.name} takes them`,
      ],
      Boolean(opts.yes),
    );
    const r = await onAnsweringMember(
      c,
      (port) =>
        switchoverScript(port, {
          action: 'switchover',
          leader: leader.name,
          candidate: candidate.name,
          widenSync: Boolean(opts.to),
        }),
      'switchover',
      240_000,
    );
    out.info(`switchover through ${r.host}: ${r.stdout.split('\n').join('; ')}`);
    done = true;
    const { after } = await finish(g, out, c);
    return { ok: true, from: leader.name, to: candidate.name, before: before.members, after };
  } finally {
    if (!done) await c.s.close();
  }
}
