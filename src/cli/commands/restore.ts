// pgha restore --to TIME|latest|LABEL: rebuild the whole cluster from the pgBackRest repository. Everything is
// checked first (the target against what the repository holds, every member connected); then it asks, stops
// every member, moves the data directories aside, deletes the cluster's keys from the DCS, restores the first
// member through Patroni's bootstrap method and lets the others clone from it, and verifies the cluster.
import type { GlobalOptions } from '../session.js';
import { connectAll } from '../session.js';
import type { Out } from '../output.js';
import { confirmAction, finish, openClusterCommand, showBefore } from '../cluster-command.js';
import { withRole } from '../../components/common.js';
import { fetchCluster } from '../../components/patroni/checks.js';
import { healthyLeader } from '../../components/patroni/switchover.js';
import { patroniConfigFile } from '../../components/patroni/steps.js';
import { patroniSettings } from '../../components/patroni/settings.js';
import { pgbackrestOf } from '../../components/restore/pgbackrest.js';
import { archiveCurrentWal, readRepository } from '../../components/restore/repo.js';
import { checkTarget, describeTarget, parseTarget, pgTime } from '../../components/restore/target.js';
import { withRestoreBootstrap } from '../../components/restore/bootstrap.js';
import { clusterPrefix, remoteOps } from '../../components/restore/remote.js';
import { RestoreFailed, runRestore } from '../../components/restore/run.js';
import { RunError, UserError } from '../../util/errors.js';

export async function restore(g: GlobalOptions, out: Out, opts: { to?: string; yes?: boolean }) {
  const target = parseTarget(opts.to); // an unparseable --to is refused before anything is contacted
  if (g.limit)
    throw new UserError('pgha restore rebuilds every member of the cluster: --limit is not taken', 'drop --limit');
  const c = await openClusterCommand(g, out, 'restore');
  let done = false;
  try {
    const inv = c.s.inv;
    const p = pgbackrestOf(inv, 'pgha restore');
    const etcdHosts = withRole(inv.hosts, 'etcd');
    await connectAll(c.s, [p.repo, ...etcdHosts.filter((h) => !c.s.transports.has(h.name))]).catch((e) => {
      if (!c.s.transports.has(p.repo.name) || !etcdHosts.some((h) => c.s.transports.has(h.name))) throw e;
    });
    const missing = c.members.filter((h) => !c.s.transports.has(h.name)).map((h) => h.name);
    if (missing.length)
      throw new UserError(
        `pgha restore refused: ${missing.join(', ')} did not answer over SSH; every member must be stopped first, ` +
          'or it would go on with its old data',
        'start those hosts (pgha lab up, or the machines), or take them out of the inventory',
      );
    await showBefore(c, out);

    const got = await fetchCluster(c.ctx).catch(() => undefined);
    const leader = got && healthyLeader(got.cluster);
    if (leader) {
      const why = await archiveCurrentWal(c.s.transports.get(leader.name)!, p);
      out.info(
        why
          ? `warning: pgbackrest check on ${leader.name} failed, the newest writes may not be archived: ${why}`
          : `${leader.name}: the current WAL is archived (pgbackrest check)`,
      );
    }
    const repo = await readRepository(c.s.transports.get(p.repo.name)!, p);
    const plan = checkTarget(target, repo.info, repo.walSec);
    const what = describeTarget(plan);
    out.info(`restore to ${what}`);
    out.info(`the repository reaches ${pgTime(plan.range.from * 1000)} .. ${pgTime(plan.range.to * 1000)}`);

    const [first, ...others] = c.members;
    const ps = patroniSettings(inv, first!);
    const lost =
      target.kind === 'time'
        ? `every write committed after ${target.text}`
        : target.kind === 'label'
          ? `every write after backup ${target.label} ended (${pgTime(plan.backup.stop * 1000)})`
          : 'every write not in the repository (the current WAL was archived just now when a leader ran)';
    await confirmAction(
      'pgha restore',
      [
        ...c.members.map((h) => ({
          host: h.name,
          summary:
            'Patroni and PostgreSQL stopped, the data directory moved aside (deleted once the restored cluster runs), ' +
            (h === first ? `restored from the repository on ${p.repo.name}` : `cloned again from ${first!.name}`),
        })),
        {
          host: etcdHosts.find((h) => c.s.transports.has(h.name))!.name,
          summary: `etcd: every key under ${clusterPrefix(ps.namespace, ps.scope)} deleted (Patroni's state of cluster ${inv.cluster})`,
        },
      ],
      [lost, 'reads and writes: the cluster is down until the restored leader runs'],
      Boolean(opts.yes),
    );

    const normalConfig: Record<string, string> = {};
    for (const h of c.members) normalConfig[h.name] = patroniConfigFile(c.runner.hostContext(h)).content;
    const restoreConfig = withRestoreBootstrap(normalConfig[first!.name]!, p, ps.pgDataDir, plan);
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '');
    const ops = remoteOps({
      inv,
      transports: c.s.transports,
      secrets: c.s.secrets,
      stamp,
      log: (l) => out.info(l),
    });
    const t0 = Date.now();
    let phases;
    try {
      ({ phases } = await runRestore(
        ops,
        { first: first!.name, others: others.map((h) => h.name), normalConfig, restoreConfig },
        (l) => out.info(l),
      ));
    } catch (e) {
      if (!(e instanceof RestoreFailed)) throw e;
      const kept = Object.entries(e.kept).map(([h, d]) => `${h}: ${d}`);
      if (kept.length) out.info(`the old data directories are kept: ${kept.join('; ')}`);
      throw new RunError('restore', [{ host: first!.name, error: e }]);
    }
    const restoredSec = (Date.now() - t0) / 1000;
    out.info(`restored in ${restoredSec.toFixed(1)} s; take a new full backup soon (pgha backup --type full)`);
    done = true;
    const v0 = Date.now();
    const { after } = await finish(g, out, c);
    const verifySec = (Date.now() - v0) / 1000;
    return {
      ok: true,
      target: what,
      backup: plan.backup.label,
      phases: [...phases, { name: 'verify', seconds: verifySec }],
      seconds: restoredSec + verifySec,
      after,
    };
  } finally {
    if (!done) await c.s.close();
  }
}
