// pgha reinit HOST: rebuild one replica from the leader (POST /reinitialize) and wait until it streams again.
// With --from-backup the replica is restored from the pgBackRest repository instead (sparing the leader): for the
// rebuild only, its config.yml has create_replica_methods [pgbackrest, basebackup] (basebackup when the restore
// fails) and a restore_command, then its normal config.yml is written back.
import type { GlobalOptions } from '../session.js';
import type { Out } from '../output.js';
import { confirmAction, finish, showBefore, onMember, openClusterCommand } from '../cluster-command.js';
import { readClusterView, reinitScript, reinitTarget } from '../../components/patroni/switchover.js';
import { waitFor } from '../../engine/wait.js';
import { RunError } from '../../util/errors.js';
import { backupSource, reinitFromBackup } from './reinit-backup.js';

export async function reinit(g: GlobalOptions, out: Out, host: string, opts: { yes?: boolean; fromBackup?: boolean }) {
  const c = await openClusterCommand(g, out, 'reinit');
  let done = false;
  try {
    const before = await showBefore(c, out);
    const v = await readClusterView(c.ctx);
    const m = reinitTarget(c.ctx, v, host);
    const h = c.members.find((x) => x.name === m.name)!;
    const fromBackup = opts.fromBackup ? await backupSource(c, out) : undefined;
    const source = fromBackup ? `the repository on ${fromBackup.p.repo.name}` : 'the leader';
    await confirmAction(
      'pgha reinit',
      [
        {
          host: m.name,
          summary: `deletes its data directory and ${fromBackup ? 'restores it from' : 'clones it again from'} ${source}`,
        },
      ],
      [`${m.name}: its copy of the database (rebuilt from ${source}); it serves no reads until it streams again`],
      Boolean(opts.yes),
    );
    let method = 'basebackup';
    if (fromBackup) {
      method = await reinitFromBackup(c, out, h, fromBackup.p);
    } else {
      out.info(await onMember(c, h, (port) => reinitScript(port), 'reinit', 960_000));
    }
    const streams = await waitFor(
      async () => {
        const v2 = await readClusterView(c.ctx).catch(() => undefined);
        return { ok: Boolean(v2?.streaming.includes(m.name)), value: v2?.streaming.join(', ') ?? '' };
      },
      { timeoutMs: 300_000, intervalMs: 2000, what: `${m.name} streaming` },
    );
    if (!streams.ok)
      throw new RunError('reinit', [
        { host: m.name, error: new Error(`${m.name} does not stream from the leader (streaming: ${streams.value})`) },
      ]);
    out.info(`${m.name} streams from the leader again`);
    done = true;
    const { after } = await finish(g, out, c);
    return { ok: true, host: m.name, method, before: before.members, after };
  } finally {
    if (!done) await c.s.close();
  }
}
