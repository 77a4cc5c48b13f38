// pgBackRest's inventory variables, the backup role and the rules across hosts. Backups are on when a host has
// the role backup (the repository host). Read them with backupSettings(inv).
import type { Host, Inventory } from '../../inventory/types.js';
import type { InventoryRule, MapValue, RoleDecl } from '../../inventory/catalog.js';
import { defineSettings } from '../settings.js';
import { withRole } from '../common.js';
import { calendarProblem } from './calendar.js';

export const BACKUP_ROLE = 'backup';
export const BACKUP_ROLES: RoleDecl[] = [
  { name: BACKUP_ROLE, doc: 'pgBackRest repository: TLS server, scheduled backups (one host)' },
];

/** Where pgBackRest keeps its things on every host (see docs/backup.md). */
export const PGBACKREST_CONF = '/etc/pgbackrest/pgbackrest.conf';
export const PGBACKREST_TLS_DIR = '/etc/pgbackrest/tls';
export const PGBACKREST_UNIT = 'pgbackrest-server';
/** The repository host's service user (the postgres hosts' pgBackRest runs as postgres). */
export const REPO_USER = 'pgbackrest';

const SCHEDULE = '^[A-Za-z0-9 *,./:~_+-]*$';

export const backupVars = defineSettings(
  {
    stanza: {
      name: 'backup_stanza',
      type: 'string',
      default: '',
      pattern: '^[A-Za-z0-9_.-]*$',
      level: 'cluster',
      doc: "pgBackRest stanza: the cluster's name in the repository (default: the cluster name).",
    },
    fullSchedule: {
      name: 'backup_full_schedule',
      type: 'string',
      default: 'Sun *-*-* 01:00:00',
      pattern: SCHEDULE,
      level: 'cluster',
      doc: 'When a full backup runs: a systemd OnCalendar expression (default "Sun *-*-* 01:00:00", Sundays 01:00 in the host\'s time zone).',
    },
    diffSchedule: {
      name: 'backup_diff_schedule',
      type: 'string',
      default: 'Mon..Sat *-*-* 01:00:00',
      pattern: SCHEDULE,
      level: 'cluster',
      doc: 'When a differential backup runs (OnCalendar; default "Mon..Sat *-*-* 01:00:00"; "" for none).',
    },
    incrSchedule: {
      name: 'backup_incr_schedule',
      type: 'string',
      default: '',
      pattern: SCHEDULE,
      level: 'cluster',
      doc: 'When an incremental backup runs (OnCalendar, e.g. "*-*-* 07..23:00:00"; default "": none).',
    },
    retentionFull: {
      name: 'backup_retention_full',
      type: 'int',
      default: 2,
      min: 1,
      max: 9999999,
      level: 'cluster',
      doc: 'Full backups kept (repo1-retention-full; default 2). Older ones and the WAL only they need are expired.',
    },
    retentionDiff: {
      name: 'backup_retention_diff',
      type: 'int',
      default: 7,
      min: 1,
      max: 9999999,
      level: 'cluster',
      doc: 'Differential backups kept (repo1-retention-diff; default 7).',
    },
    maxAgeGraceHours: {
      name: 'backup_age_grace_hours',
      type: 'int',
      default: 6,
      min: 0,
      max: 8760,
      level: 'cluster',
      doc: 'The last backup may be older than the longest gap between two scheduled backups by this much before the checks fail (default 6).',
    },
    compressType: {
      name: 'backup_compress_type',
      type: 'string',
      default: 'lz4',
      pattern: '^(none|gz|lz4|zst|bz2)$',
      level: 'cluster',
      doc: 'Compression of backups and WAL in the repository (default lz4: fast, light on CPU).',
    },
    repoPath: {
      name: 'backup_repo_path',
      type: 'string',
      default: '/var/lib/pgbackrest',
      pattern: '^/[A-Za-z0-9_./-]+$',
      level: 'cluster',
      doc: 'Repository folder on the backup host (default /var/lib/pgbackrest).',
    },
    tlsPort: {
      name: 'backup_tls_port',
      type: 'int',
      default: 8432,
      min: 1,
      max: 65535,
      level: 'cluster',
      doc: "Port of pgBackRest's TLS server on the backup and postgres hosts (default 8432).",
    },
  },
  [
    { uses: ['fullSchedule'], check: (s) => scheduleProblem('backup_full_schedule', s.fullSchedule, false) },
    { uses: ['diffSchedule'], check: (s) => scheduleProblem('backup_diff_schedule', s.diffSchedule, true) },
    { uses: ['incrSchedule'], check: (s) => scheduleProblem('backup_incr_schedule', s.incrSchedule, true) },
  ],
);

function scheduleProblem(name: string, expr: string, mayBeEmpty: boolean): string | undefined {
  if (mayBeEmpty && expr.trim() === '') return undefined;
  const p = calendarProblem(expr);
  return p
    ? `${name} "${expr}" is not a systemd calendar event (OnCalendar=): ${p}; e.g. "Sun *-*-* 01:00:00" or "daily"`
    : undefined;
}

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** One repository host; backup_* variables only with one. */
export const backupInventoryRule: InventoryRule = {
  check({ hosts, data }) {
    const out: { ptr: string; message: string }[] = [];
    const repos = hosts.filter((h) => h.roles.includes(BACKUP_ROLE));
    if (repos.length > 1) {
      for (const h of repos.slice(1))
        out.push({
          ptr: `/hosts/${h.name}/roles`,
          message: `hosts ${repos.map((x) => x.name).join(', ')} have the backup role: pgha keeps one pgBackRest repository; give the role to one host`,
        });
    }
    if (repos.length === 0) {
      const d = obj(data);
      const layers: [string, unknown][] = [['/vars', d.vars]];
      for (const [g, spec] of Object.entries(obj(d.groups))) layers.push([`/groups/${g}/vars`, obj(spec).vars]);
      for (const [h, spec] of Object.entries(obj(d.hosts))) layers.push([`/hosts/${h}/vars`, obj(spec).vars]);
      for (const [ptr, vars] of layers)
        for (const k of Object.keys(obj(vars)).filter((x) => x.startsWith('backup_')))
          out.push({
            ptr: `${ptr}/${k}`,
            message: `${k} is set but no host has the backup role: backups are off; give the role backup to the repository host (e.g. bk1: {address: ..., roles: [backup]}) or remove the variable`,
          });
    }
    return out;
  },
};

/** The settings with the derived ones (the stanza). Cluster-level: read from the first host. */
export function backupSettings(inv: Pick<Inventory, 'file' | 'cluster' | 'hosts'>, host?: Host) {
  const h = host ?? repoHost(inv) ?? inv.hosts[0]!;
  const s = backupVars.read(inv, h);
  return { ...s, stanza: s.stanza || inv.cluster };
}

export type BackupSettings = ReturnType<typeof backupSettings>;

/** The repository host, when backups are on. */
export function repoHost(inv: Pick<Inventory, 'hosts'>): Host | undefined {
  return withRole(inv.hosts, BACKUP_ROLE)[0];
}

export function backupsOn(inv: Pick<Inventory, 'hosts'>): boolean {
  return repoHost(inv) !== undefined;
}

/** archive_command of every member: pgBackRest pushes each WAL segment to the repository. */
export function archiveCommand(stanza: string): string {
  return `pgbackrest --stanza=${stanza} archive-push "%p"`;
}

/** restore_command of replicas (and of a restore): WAL fetched from the repository. */
export function restoreCommand(stanza: string): string {
  return `pgbackrest --stanza=${stanza} archive-get %f "%p"`;
}

/** The PostgreSQL parameters backups need in the DCS (every member), none when backups are off. */
export function archiveParameters(inv: Pick<Inventory, 'file' | 'cluster' | 'hosts'>): Record<string, MapValue> {
  if (!backupsOn(inv)) return {};
  return { archive_mode: 'on', archive_command: archiveCommand(backupSettings(inv).stanza) };
}

/** Patroni's DCS recovery_conf with backups: replicas fetch missing WAL from the repository. */
export function recoveryConf(inv: Pick<Inventory, 'file' | 'cluster' | 'hosts'>): Record<string, string> | undefined {
  return backupsOn(inv) ? { restore_command: restoreCommand(backupSettings(inv).stanza) } : undefined;
}
