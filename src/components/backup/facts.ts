// What pgBackRest, systemd and PostgreSQL print about backups, parsed: `pgbackrest info --output=json`,
// `systemd-analyze calendar --iterations=N` and a row of pg_stat_archiver.
import { obj } from '../common.js';

export interface BackupEntry {
  label: string;
  type: string; // full | diff | incr
  start: number; // epoch seconds
  stop: number;
  /** Database size at the backup, bytes. */
  size: number;
  /** Size of this backup in the repository (compressed), bytes. */
  repoSize: number;
  /** What this backup added to the repository (compressed), bytes. */
  repoDelta: number;
  walStart: string;
  walStop: string;
  prior?: string;
  error: boolean;
}

export interface StanzaInfo {
  name: string;
  status: { code: number; message: string };
  /** A backup or expire holds the stanza's lock (and how far it is, when pgBackRest says). */
  running?: { done?: number; total?: number };
  backups: BackupEntry[];
  /** Oldest and newest WAL segment in the archive. */
  wal: { min: string; max: string };
  /** The repository's size: every backup's delta (the WAL archive is not counted). */
  repoSize: number;
}

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0) || 0);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** `pgbackrest info --output=json`: one entry per stanza. */
export function parseInfo(text: string): StanzaInfo[] {
  let d: unknown;
  try {
    d = JSON.parse(text);
  } catch {
    throw new Error(`pgbackrest info printed no JSON: ${text.trim().slice(0, 200) || '(nothing)'}`);
  }
  if (!Array.isArray(d)) throw new Error('pgbackrest info: expected a list of stanzas');
  return d.map((x) => {
    const s = obj(x);
    const status = obj(s.status);
    const lock = obj(obj(status.lock).backup);
    const backups = (Array.isArray(s.backup) ? s.backup : []).map((b): BackupEntry => {
      const bo = obj(b);
      const info = obj(bo.info);
      const repo = obj(info.repository);
      const ts = obj(bo.timestamp);
      const arch = obj(bo.archive);
      return {
        label: str(bo.label),
        type: str(bo.type),
        start: num(ts.start),
        stop: num(ts.stop),
        size: num(info.size),
        repoSize: num(repo.size),
        repoDelta: num(repo.delta),
        walStart: str(arch.start),
        walStop: str(arch.stop),
        ...(bo.prior ? { prior: str(bo.prior) } : {}),
        error: bo.error === true,
      };
    });
    const archives = (Array.isArray(s.archive) ? s.archive : []).map(obj);
    const mins = archives.map((a) => str(a.min)).filter(Boolean);
    const maxs = archives.map((a) => str(a.max)).filter(Boolean);
    return {
      name: str(s.name),
      status: { code: num(status.code), message: str(status.message) },
      ...(lock.held === true
        ? {
            running: {
              ...(lock['size-cplt'] !== undefined ? { done: num(lock['size-cplt']) } : {}),
              ...(lock.size !== undefined ? { total: num(lock.size) } : {}),
            },
          }
        : {}),
      backups,
      wal: { min: mins.sort()[0] ?? '', max: maxs.sort().pop() ?? '' },
      repoSize: backups.reduce((a, b) => a + b.repoDelta, 0),
    };
  });
}

/**
 * `TZ=UTC systemd-analyze calendar --iterations=N EXPR...`: the next elapses of each expression (epoch seconds),
 * one list per expression in the order given.
 */
export function parseCalendar(text: string): number[][] {
  const out: number[][] = [];
  for (const line of text.split('\n')) {
    if (/^\s*Original form:/.test(line)) out.push([]);
    const m = /^\s*(?:Next elapse|Iter\. #\d+):\s+\w+\s+(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC\s*$/.exec(line);
    if (m && out.length) out[out.length - 1]!.push(Date.parse(`${m[1]}T${m[2]}Z`) / 1000);
  }
  return out;
}

/**
 * The longest time between two scheduled backups (seconds), over the window all schedules cover: the union of
 * the elapses up to the earliest last elapse of any schedule. Undefined with no schedule.
 */
export function longestGap(elapses: number[][]): number | undefined {
  const lists = elapses.filter((l) => l.length > 1);
  if (!lists.length) return undefined;
  const end = Math.min(...lists.map((l) => Math.max(...l)));
  const all = [...new Set(lists.flat().filter((t) => t <= end))].sort((a, b) => a - b);
  let gap = 0;
  for (let i = 1; i < all.length; i++) gap = Math.max(gap, all[i]! - all[i - 1]!);
  return gap || undefined;
}

export interface ArchiverState {
  archivedCount: number;
  lastArchivedWal: string;
  lastArchivedTime?: number;
  failedCount: number;
  lastFailedWal: string;
  lastFailedTime?: number;
}

/** The SQL whose one line parseArchiver reads. */
export const ARCHIVER_SQL =
  "select archived_count, coalesce(last_archived_wal, ''), coalesce(extract(epoch from last_archived_time)::text, ''), " +
  "failed_count, coalesce(last_failed_wal, ''), coalesce(extract(epoch from last_failed_time)::text, '') from pg_stat_archiver";

/** A pg_stat_archiver row as `psql -At -F '|'` prints it. */
export function parseArchiver(line: string): ArchiverState {
  const f = line.trim().split('|');
  if (f.length !== 6) throw new Error(`pg_stat_archiver: unexpected row '${line.trim()}'`);
  const time = (v: string) => (v === '' ? undefined : Number(v));
  return {
    archivedCount: Number(f[0]),
    lastArchivedWal: f[1]!,
    lastArchivedTime: time(f[2]!),
    failedCount: Number(f[3]),
    lastFailedWal: f[4]!,
    lastFailedTime: time(f[5]!),
  };
}

/** Archiving fails when the last failure is newer than the last success (or there was never a success). */
export function archiveFailing(a: ArchiverState): boolean {
  if (a.lastFailedTime === undefined) return false;
  return a.lastArchivedTime === undefined || a.lastFailedTime > a.lastArchivedTime;
}
