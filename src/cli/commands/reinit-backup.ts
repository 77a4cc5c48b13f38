// `pgha reinit HOST --from-backup`: the repository must hold a backup (checked before anything changes); the
// replica runs, for the rebuild only, with create_replica_methods [pgbackrest, basebackup] and a restore_command,
// is reinitialized (POST /reinitialize) and gets its normal config.yml back, whatever happened.
import type { Host } from '../../inventory/types.js';
import type { Out } from '../output.js';
import { connectAll } from '../session.js';
import { onMember, type ClusterCommand } from '../cluster-command.js';
import { patroniConfigFile } from '../../components/patroni/steps.js';
import { patroniSettings } from '../../components/patroni/settings.js';
import { reinitScript } from '../../components/patroni/switchover.js';
import { journalCmd, obj } from '../../components/common.js';
import { waitFor } from '../../engine/wait.js';
import { pgbackrestOf, type Pgbackrest } from '../../components/restore/pgbackrest.js';
import { readRepository } from '../../components/restore/repo.js';
import { withBackupReplicaMethod } from '../../components/restore/bootstrap.js';
import { writeConfigScript } from '../../components/restore/remote.js';
import { RemoteError, UserError } from '../../util/errors.js';
import { patroniGet } from '../../components/patroni/api.js';

/** The repository, when it holds a backup to restore from; a UserError otherwise (nothing changed). */
export async function backupSource(c: ClusterCommand, out: Out): Promise<{ p: Pgbackrest }> {
  const p = pgbackrestOf(c.s.inv, 'pgha reinit --from-backup');
  await connectAll(c.s, [p.repo]);
  const repo = await readRepository(c.s.transports.get(p.repo.name)!, p);
  if (!repo.info?.backups.length)
    throw new UserError(
      `pgha reinit --from-backup refused: the repository on ${p.repo.name} has no backup of stanza ${p.stanza}`,
      'take one first (pgha backup --type full), or rebuild from the leader (without --from-backup)',
    );
  out.info(`the repository holds ${repo.info.backups.length} backup(s), the newest ${repo.info.backups.at(-1)!.label}`);
  return { p };
}

/** Which replica method Patroni's log says created the replica since `since` (journalctl time). */
export function createdWith(journalText: string): string | undefined {
  const m = [...journalText.matchAll(/replica has been created using (\S+)/g)].pop();
  return m?.[1];
}

export async function reinitFromBackup(c: ClusterCommand, out: Out, h: Host, p: Pgbackrest): Promise<string> {
  const t = c.s.transports.get(h.name)!;
  const s = patroniSettings(c.s.inv, h);
  const normal = patroniConfigFile(c.runner.hostContext(h)).content;
  const write = async (content: string) => {
    const r = await t.exec(writeConfigScript(), {
      stdin: content,
      timeoutMs: 60_000,
      secrets: Object.values(c.s.secrets),
    });
    if (r.code !== 0) throw new RemoteError(h.name, 'writing config.yml failed', r.stderr);
  };
  const since = (await t.exec('date "+%Y-%m-%d %H:%M:%S"')).stdout.trim();
  try {
    await write(withBackupReplicaMethod(normal, p, s.pgDataDir));
    // A restart (not a reload) so the replica methods are in force before the reinitialize request arrives.
    const r = await t.exec('systemctl restart patroni', { timeoutMs: 120_000 });
    if (r.code !== 0) throw new RemoteError(h.name, 'restarting Patroni failed', r.stderr);
    await waitFor(
      async () => {
        const g = await patroniGet(t, c.s.inv, h, '/patroni');
        return { ok: g.status === 200 && obj(JSON.parse(g.body)).state === 'running', value: g.status };
      },
      { timeoutMs: 120_000, intervalMs: 1000, what: `${h.name} Patroni running` },
    );
    out.info(await onMember(c, h, (port) => reinitScript(port), 'reinit', 960_000));
  } finally {
    await write(normal);
    await t.exec('systemctl reload patroni', { timeoutMs: 60_000 });
  }
  const log = await t.exec(`${journalCmd('patroni', { since })} 2>&1 || true`, { timeoutMs: 30_000 });
  const method = createdWith(log.stdout) ?? 'unknown';
  out.info(
    method === 'pgbackrest'
      ? `${h.name} was restored from the repository on ${p.repo.name}`
      : `${h.name}: the restore from the repository did not work; Patroni used ${method} instead`,
  );
  return method;
}
