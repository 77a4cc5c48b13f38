// Reading the repository before a restore (nothing changes): `pgbackrest info --output=json` and the time of the
// newest archived WAL segment (`pgbackrest repo-ls --output=json` of its folder), on the repository host; and
// `pgbackrest check` on a running leader first, which switches to a new WAL segment and waits until the current
// one is archived, so the newest writes are in the repository's range.
import type { Transport } from '../../engine/types.js';
import { pgbackrestCmd, type Pgbackrest } from './pgbackrest.js';
import { parseInfo, walTime, type StanzaInfo } from './target.js';

export interface RepositoryState {
  info: StanzaInfo | undefined;
  /** Seconds since the epoch; undefined when the archive holds no WAL. */
  walSec: number | undefined;
}

export async function readRepository(t: Transport, p: Pgbackrest): Promise<RepositoryState> {
  const r = await t.exec(pgbackrestCmd(p, ['info', '--output=json'], p.repoUser), { timeoutMs: 120_000 });
  if (r.code !== 0)
    throw new Error(`${p.repo.name}: pgbackrest info failed: ${(r.stderr.trim() || r.stdout.trim()).slice(-800)}`);
  const info = parseInfo(r.stdout, p.stanza);
  if (!info?.walMax) return { info, walSec: undefined };
  const dir = `archive/${p.stanza}/${info.walMax.archiveId}/${info.walMax.segment.slice(0, 16)}`;
  const ls = await t.exec(pgbackrestCmd(p, ['repo-ls', '--output=json', dir], p.repoUser), { timeoutMs: 60_000 });
  return { info, walSec: ls.code === 0 ? walTime(ls.stdout, info.walMax.segment) : undefined };
}

/** `pgbackrest check` on the leader (as postgres): its current WAL reaches the repository. The error, or ''. */
export async function archiveCurrentWal(t: Transport, p: Pgbackrest): Promise<string> {
  const r = await t.exec(pgbackrestCmd(p, ['check'], 'postgres'), { timeoutMs: 180_000 });
  return r.code === 0 ? '' : (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' ');
}
