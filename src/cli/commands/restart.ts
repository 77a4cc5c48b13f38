// pgha restart [--limit PATTERN] [--in-place]: restart every selected member, one at a time: replicas in place,
// the leader after a switchover to a healthy replica (or in place with --in-place). The same step and decision as
// the rolling restart of `pgha up`.
import type { GlobalOptions } from '../session.js';
import type { Out } from '../output.js';
import { confirmAction, finish, showBefore, openClusterCommand } from '../cluster-command.js';
import { decideForHosts, makeRestartStep } from '../../components/patroni/restart.js';
import { resolveLimit } from '../../inventory/load.js';
import { withRole } from '../../components/common.js';
import { UserError } from '../../util/errors.js';

export async function restart(g: GlobalOptions, out: Out, opts: { inPlace?: boolean; yes?: boolean }) {
  const c = await openClusterCommand(g, out, 'restart');
  let done = false;
  try {
    const selected = withRole(g.limit ? resolveLimit(c.s.inv, g.limit) : c.s.inv.hosts, 'postgres');
    if (!selected.length) throw new UserError(`pgha restart --limit ${g.limit}: no postgres member is selected`);
    const before = await showBefore(c, out);
    const req = { force: 'asked by pgha restart', inPlace: opts.inPlace };
    const ctx = c.runner.groupContext(selected);
    const d = await decideForHosts(ctx, req);
    if (d.unread.length) throw new UserError(`pgha restart: cannot read ${d.unread.join(', ')} (pgha status)`);
    await confirmAction(
      'pgha restart',
      d.actions.map((a) => ({
        host: a.host,
        summary: a.kind === 'switchover' ? `switchover to ${a.candidate}, then runs as a replica` : 'restart in place',
      })),
      d.actions.map((a) =>
        a.kind === 'switchover'
          ? `sessions on the primary ${a.host} are cut; writes fail for a few seconds until ${a.candidate} takes them`
          : a.leader
            ? `writes fail while the primary ${a.host} restarts`
            : `sessions on ${a.host} are cut while it restarts`,
      ),
      Boolean(opts.yes),
    );
    await c.runner.runStep(makeRestartStep(req), selected);
    done = true;
    const { after } = await finish(g, out, c);
    return { ok: true, restarted: d.actions.map((a) => a.host), before: before.members, after };
  } finally {
    if (!done) await c.s.close();
  }
}
