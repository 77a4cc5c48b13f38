// What `pgha backups` prints: one row per backup (label, type, start and stop, database and repository sizes, WAL
// range), then the repository's size and the WAL archive's range.
import type { StanzaInfo } from './facts.js';

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) [v, i] = [v / 1024, i + 1];
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

function time(epoch: number): string {
  return epoch
    ? new Date(epoch * 1000)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z')
    : '-';
}

export function formatBackups(info: StanzaInfo): string {
  const head = ['label', 'type', 'start', 'stop', 'db size', 'repo size', 'wal start', 'wal stop'];
  const rows = info.backups.map((b) => [
    b.label + (b.error ? ' (error)' : ''),
    b.type,
    time(b.start),
    time(b.stop),
    humanBytes(b.size),
    humanBytes(b.repoSize),
    b.walStart || '-',
    b.walStop || '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const lines = [`stanza ${info.name}: ${info.status.message || 'status ' + info.status.code}`];
  lines.push(rows.length ? [line(head), ...rows.map(line)].join('\n') : '(no backup yet)');
  lines.push(
    `repository: ${humanBytes(info.repoSize)} in backups; WAL archive ${info.wal.min || '-'} .. ${info.wal.max || '-'}`,
  );
  return lines.join('\n');
}
