// pgha backup [--type full|diff|incr]: a pgBackRest backup now, on the repository host, with its progress; and
// pgha backups: the backups in the repository.
import type { GlobalOptions } from '../session.js';
import { connectAll, openSession } from '../session.js';
import type { Out } from '../output.js';
import { UserError } from '../../util/errors.js';
import { RemoteError } from '../../util/errors.js';
import { REPO_USER, backupSettings, repoHost } from '../../components/backup/settings.js';
import { pgbackrest } from '../../components/backup/scripts.js';
import { readInfo } from '../../components/backup/checks.js';
import { formatBackups, humanBytes } from '../../components/backup/view.js';
import { BACKUP_TYPES, type BackupType } from '../../components/backup/steps.js';
import type { Inventory } from '../../inventory/types.js';

function repoOf(inv: Inventory) {
  const repo = repoHost(inv);
  if (!repo)
    throw new UserError(
      `no host of ${inv.file} has the backup role: backups are off`,
      'give the role backup to a repository host (e.g. bk1: {address: ..., roles: [backup]}) and run pgha up',
      { file: inv.file, field: 'hosts' },
    );
  return repo;
}

export async function backupNow(g: GlobalOptions, out: Out, opts: { type?: string }) {
  const type = (opts.type ?? 'full') as BackupType;
  if (!BACKUP_TYPES.includes(type)) throw new UserError(`--type ${type}: expected full, diff or incr`);
  // No run lock and no secrets written: a backup changes no configuration, and pgBackRest's own lock keeps backups
  // apart.
  const s = await openSession({ ...g, limit: undefined }, 'backup', { check: true, lock: false, onExec: out.exec });
  try {
    const repo = repoOf(s.inv);
    const { stanza } = backupSettings(s.inv);
    await connectAll(s, [repo]);
    const t = s.transports.get(repo.name)!;
    out.info(`${type} backup of stanza ${stanza} on ${repo.name} ...`);
    const start = Date.now();
    const job = t.exec(`${pgbackrest(REPO_USER, stanza, `--type=${type} --log-level-console=info backup`)} 2>&1`, {
      timeoutMs: 24 * 3600_000,
    });
    // Progress: pgBackRest's lock shows how much it has copied (info while the backup holds the lock).
    let done = false;
    void job.finally(() => (done = true)).catch(() => undefined);
    let said = '';
    while (!done) {
      await new Promise((r) => setTimeout(r, 2000));
      if (done) break;
      const info = await readInfo(t, stanza).catch(() => undefined);
      const run = info?.running;
      const secs = Math.round((Date.now() - start) / 1000);
      const line =
        run?.total !== undefined && run.done !== undefined && run.total > 0
          ? `  ${((100 * run.done) / run.total).toFixed(1)}% (${humanBytes(run.done)} of ${humanBytes(run.total)}), ${secs} s`
          : `  running, ${secs} s`;
      if (line.replace(/, \d+ s$/, '') !== said || secs % 10 < 2) out.info(line);
      said = line.replace(/, \d+ s$/, '');
    }
    const r = await job;
    const elapsedMs = Date.now() - start;
    if (r.code !== 0)
      throw new RemoteError(
        repo.name,
        `pgbackrest ${type} backup failed (exit ${r.code})`,
        r.stdout.trim().split('\n').slice(-15).join('\n'),
      );
    const info = await readInfo(t, stanza);
    const last = info.backups.filter((b) => b.type === type).pop();
    out.info(
      last
        ? `done: ${last.label} (${type}) in ${(elapsedMs / 1000).toFixed(1)} s; database ${humanBytes(last.size)}, in the repository ${humanBytes(last.repoSize)}; WAL ${last.walStart} .. ${last.walStop}`
        : `done in ${(elapsedMs / 1000).toFixed(1)} s`,
    );
    return { ok: true, stanza, repo: repo.name, type, elapsedMs, backup: last };
  } finally {
    await s.close();
  }
}

export async function listBackups(g: GlobalOptions, out: Out) {
  const s = await openSession({ ...g, limit: undefined }, 'backups', { check: true, lock: false, onExec: out.exec });
  try {
    const repo = repoOf(s.inv);
    const { stanza } = backupSettings(s.inv);
    await connectAll(s, [repo]);
    const info = await readInfo(s.transports.get(repo.name)!, stanza);
    out.info(formatBackups(info));
    return { ok: true, repo: repo.name, ...info };
  } finally {
    await s.close();
  }
}
