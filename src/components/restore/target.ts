// What `pgha restore --to` may name, and whether the repository can reach it: a point in time, `latest` (the
// newest backup and every archived WAL after it), or a backup label (the state at the end of that backup). The
// reachable range comes from `pgbackrest info --output=json` on the repository host: from the end of the oldest
// backup to the time of the newest archived WAL segment.
import { UserError } from '../../util/errors.js';
import { obj } from '../common.js';

export type RestoreTarget =
  | { kind: 'latest' }
  | { kind: 'label'; label: string }
  /** `ms`: milliseconds since the epoch; `text`: the same instant as PostgreSQL reads it (UTC). */
  | { kind: 'time'; ms: number; text: string };

export interface BackupInfo {
  label: string;
  type: string;
  /** Seconds since the epoch. */
  start: number;
  stop: number;
}

export interface StanzaInfo {
  name: string;
  /** Oldest first. */
  backups: BackupInfo[];
  /** The newest archived WAL segment (pgbackrest info's archive max), with its archive id. */
  walMax?: { archiveId: string; segment: string };
  status: { code: number; message: string };
}

const LABEL = /^\d{8}-\d{6}F(_\d{8}-\d{6}[DI])?$/;
const TIME =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(?:\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?))?$/i;

/** `2026-11-30 07:40:01.123+00`: the form given to PostgreSQL's recovery_target_time and pgbackrest --target. */
export function pgTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '+00');
}

/**
 * `latest`, a backup label (20261130-071500F, or with _..D/_..I), or a time: `YYYY-MM-DD HH:MM[:SS[.ffffff]]`
 * (a `T` between date and time also works) with an optional zone (Z, UTC, +02, +05:30); without one it is UTC.
 */
export function parseTarget(to: string | undefined): RestoreTarget {
  const v = (to ?? '').trim();
  if (!v)
    throw new UserError(
      'pgha restore needs --to: a time, latest or a backup label',
      'e.g. --to "2026-11-30 07:40:00+00", --to latest, --to 20261130-071500F (pgha backups lists them)',
    );
  if (v.toLowerCase() === 'latest') return { kind: 'latest' };
  if (LABEL.test(v)) return { kind: 'label', label: v };
  const m = TIME.exec(v);
  if (!m)
    throw new UserError(
      `pgha restore --to ${JSON.stringify(v)}: not a time, latest or a backup label`,
      'a time is YYYY-MM-DD HH:MM[:SS[.fff]] with an optional zone (Z, +02, +05:30; UTC without one)',
    );
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const n = (x: string | undefined) => Number(x ?? 0);
  const ms0 = Date.UTC(n(y), n(mo) - 1, n(d), n(h), n(mi), n(s), Math.floor(Number(`0.${frac ?? 0}`) * 1000));
  const check = new Date(ms0);
  if (
    check.getUTCFullYear() !== n(y) ||
    check.getUTCMonth() !== n(mo) - 1 ||
    check.getUTCDate() !== n(d) ||
    n(h) > 23 ||
    n(mi) > 59 ||
    n(s) > 59
  )
    throw new UserError(`pgha restore --to ${JSON.stringify(v)}: no such date or time`);
  let offsetMin = 0;
  if (zone && !/^(z|utc)$/i.test(zone)) {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    offsetMin = (z[1] === '-' ? -1 : 1) * (n(z[2]) * 60 + n(z[3]));
    if (Math.abs(offsetMin) > 14 * 60) throw new UserError(`pgha restore --to ${JSON.stringify(v)}: no such zone`);
  }
  const ms = ms0 - offsetMin * 60_000;
  return { kind: 'time', ms, text: pgTime(ms) };
}

/** The stanza `name` from `pgbackrest info --output=json` (an array of stanzas); undefined when it is not there. */
export function parseInfo(json: string, name: string): StanzaInfo | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw new Error(`pgbackrest info did not print JSON: ${json.slice(0, 200)}`);
  }
  if (!Array.isArray(doc)) throw new Error('pgbackrest info --output=json: not a list of stanzas');
  const st = doc.map(obj).find((s) => s.name === name);
  if (!st) return undefined;
  const backups = (Array.isArray(st.backup) ? st.backup : []).map(obj).map((b) => {
    const ts = obj(b.timestamp);
    return { label: String(b.label), type: String(b.type), start: Number(ts.start), stop: Number(ts.stop) };
  });
  backups.sort((a, b) => a.stop - b.stop);
  const archives = (Array.isArray(st.archive) ? st.archive : []).map(obj).filter((a) => typeof a.max === 'string');
  archives.sort((a, b) => String(a.max).localeCompare(String(b.max)));
  const last = archives[archives.length - 1];
  const status = obj(st.status);
  return {
    name,
    backups,
    walMax: last ? { archiveId: String(last.id), segment: String(last.max) } : undefined,
    status: { code: Number(status.code ?? -1), message: String(status.message ?? '') },
  };
}

/** The newest archived WAL's time (seconds) from `pgbackrest repo-ls --output=json` of its folder. */
export function walTime(repoLsJson: string, segment: string): number | undefined {
  let doc: Record<string, unknown>;
  try {
    doc = obj(JSON.parse(repoLsJson));
  } catch {
    return undefined;
  }
  const times = Object.entries(doc)
    .filter(([n]) => n.startsWith(segment))
    .map(([, v]) => Number(obj(v).time))
    .filter((t) => Number.isFinite(t));
  return times.length ? Math.max(...times) : undefined;
}

export interface RestorePlan {
  target: RestoreTarget;
  /** The backup pgbackrest restores from (for a time: the newest one that ended before it). */
  backup: BackupInfo;
  /** Reachable range, seconds since the epoch. */
  range: { from: number; to: number };
}

const iso = (sec: number) => pgTime(sec * 1000);

/** The restore the target asks for, or a UserError naming the reachable range (nothing has changed yet). */
export function checkTarget(
  target: RestoreTarget,
  info: StanzaInfo | undefined,
  walSec: number | undefined,
): RestorePlan {
  if (!info || info.backups.length === 0)
    throw new UserError(
      `pgha restore refused: the repository has no backup of stanza ${info?.name ?? '(none)'}${info ? ` (${info.status.message})` : ''}`,
      'take one first: pgha backup --type full',
    );
  const oldest = info.backups[0]!;
  const newest = info.backups[info.backups.length - 1]!;
  const to = Math.max(walSec ?? newest.stop, newest.stop);
  const range = { from: oldest.stop, to };
  const span = `from ${iso(range.from)} (end of backup ${oldest.label}) to ${iso(range.to)} (newest archived WAL${info.walMax ? ` ${info.walMax.segment}` : ''})`;
  if (target.kind === 'latest') return { target, backup: newest, range };
  if (target.kind === 'label') {
    const b = info.backups.find((x) => x.label === target.label);
    if (!b)
      throw new UserError(
        `pgha restore --to ${target.label} refused: no such backup in the repository`,
        `backups: ${info.backups.map((x) => x.label).join(', ')} (pgha backups)`,
      );
    return { target, backup: b, range };
  }
  const sec = target.ms / 1000;
  if (sec < range.from)
    throw new UserError(
      `pgha restore --to "${target.text}" refused: that is before the oldest backup ended; the repository reaches ${span}`,
      'choose a time in that range',
    );
  if (sec > range.to)
    throw new UserError(
      `pgha restore --to "${target.text}" refused: that is after the newest archived WAL; the repository reaches ${span}`,
      'choose a time in that range, or --to latest',
    );
  const backup = [...info.backups].reverse().find((b) => b.stop <= sec)!;
  return { target, backup, range };
}

/** In words, for the confirmation and the report. */
export function describeTarget(p: RestorePlan): string {
  const t = p.target;
  if (t.kind === 'latest')
    return `the newest state in the repository (backup ${p.backup.label} and every archived WAL)`;
  if (t.kind === 'label') return `the end of backup ${t.label} (${iso(p.backup.stop)})`;
  return `${t.text} (from backup ${p.backup.label}, then archived WAL up to that time)`;
}
