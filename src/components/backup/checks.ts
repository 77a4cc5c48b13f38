// Backup checks, after the steps and in `pgha verify`: pgBackRest's TLS server runs on every host;
// `pgbackrest check` passes; the last backup is younger than the schedule allows; archiving does not fail on the
// leader (pg_stat_archiver: a last failure newer than the last success is a failing archive_command).
import { clusterReads } from '../patroni/reads.js';
import type { StepContext, StepGroupContext, Transport } from '../../engine/types.js';
import { CheckError } from '../../util/errors.js';
import { shq } from '../../engine/quote.js';
import { waitFor } from '../../engine/wait.js';
import { errText, journal, withRole } from '../common.js';
import { fetchCluster } from '../patroni/checks.js';
import { LEADER_ROLES } from '../patroni/facts.js';
import { patroniSettings } from '../patroni/settings.js';
import { PGBACKREST_UNIT, REPO_USER, backupSettings, repoHost, type BackupSettings } from './settings.js';
import { pgbackrest } from './scripts.js';
import {
  ARCHIVER_SQL,
  archiveFailing,
  longestGap,
  parseArchiver,
  parseCalendar,
  parseInfo,
  type ArchiverState,
  type StanzaInfo,
} from './facts.js';

/** What verifyServer reads. */
export function serverScript(ctx: Pick<StepContext, 'inventory'>): string {
  const port = backupSettings(ctx.inventory).tlsPort;
  return `systemctl is-active ${PGBACKREST_UNIT}; ss -Hltn ${shq(`sport = :${port}`)} | grep -c LISTEN || true`;
}

const checkScript = (stanza: string) => `${pgbackrest(REPO_USER, stanza, '--log-level-console=warn check')} 2>&1`;
const infoScript = (stanza: string) => pgbackrest(REPO_USER, stanza, '--output=json info');
const calendarScript = (exprs: string[]) =>
  `TZ=UTC systemd-analyze calendar --iterations=16 ${exprs.map(shq).join(' ')}`;
const archiverScript = (port: number) => `runuser -u postgres -- psql -X -At -F '|' -p ${port} -c ${shq(ARCHIVER_SQL)}`;

/** What verifyBackups reads: on the repository host, then Patroni's /cluster and each member's archiver. */
export function backupReads(ctx: Pick<StepGroupContext, 'inventory'>): { host: string; script: string }[] {
  const repo = repoHost(ctx.inventory);
  if (!repo) return [];
  const s = backupSettings(ctx.inventory);
  const exprs = [s.fullSchedule, s.diffSchedule, s.incrSchedule].filter((x) => x.trim() !== '');
  return [
    ...[checkScript(s.stanza), infoScript(s.stanza), ...(exprs.length ? [calendarScript(exprs)] : [])].map(
      (script) => ({ host: repo.name, script }),
    ),
    ...clusterReads(ctx),
    ...withRole(ctx.inventory.hosts, 'postgres').map((h) => ({
      host: h.name,
      script: archiverScript(patroniSettings(ctx.inventory, h).pgPort),
    })),
  ];
}

/** pgBackRest's TLS server runs and listens on its port. */
export async function verifyServer(ctx: StepContext, t: Transport, timeoutMs: number): Promise<void> {
  const port = backupSettings(ctx.inventory).tlsPort;
  const res = await waitFor(
    async () => {
      const r = await t.exec(serverScript(ctx), { timeoutMs: 15_000 });
      const [active = '', listening = '0'] = r.stdout.trim().split('\n');
      return {
        ok: active === 'active' && Number(listening) > 0,
        value: `${active}, ${listening} listening on ${port}`,
      };
    },
    { timeoutMs, intervalMs: 1000, what: 'pgbackrest server' },
  );
  if (!res.ok)
    throw new CheckError(
      ctx.host.name,
      'pgBackRest TLS server',
      `${PGBACKREST_UNIT} active, listening on port ${port}`,
      errText(res.value),
      await journal(t, PGBACKREST_UNIT),
    );
}

/** How old the last backup may be: the longest gap between two scheduled backups plus the grace. */
export function allowedAgeSec(gapSec: number | undefined, s: Pick<BackupSettings, 'maxAgeGraceHours'>): number {
  return (gapSec ?? 7 * 86400) + s.maxAgeGraceHours * 3600;
}

export interface BackupReport {
  repo: string;
  stanza: string;
  info: StanzaInfo;
  check: string;
  lastBackup?: { label: string; type: string; ageSec: number };
  allowedAgeSec: number;
  leader?: string;
  archiver?: ArchiverState;
}

async function run(t: Transport, script: string, timeoutMs: number) {
  const r = await t.exec(script, { timeoutMs });
  return { code: r.code, out: r.stdout, err: r.stderr.trim() };
}

/** `pgbackrest info --output=json` of the stanza, on the repository host. */
export async function readInfo(t: Transport, stanza: string): Promise<StanzaInfo> {
  const r = await run(t, infoScript(stanza), 60_000);
  if (r.code !== 0) throw new Error(`pgbackrest info failed (exit ${r.code}): ${r.err || r.out.trim()}`);
  const info = parseInfo(r.out).find((x) => x.name === stanza);
  if (!info) throw new Error(`pgbackrest info does not list stanza ${stanza}`);
  return info;
}

/** The elapses of the schedules, from the host's own systemd. */
async function scheduleGap(t: Transport, s: BackupSettings): Promise<number | undefined> {
  const exprs = [s.fullSchedule, s.diffSchedule, s.incrSchedule].filter((x) => x.trim() !== '');
  if (!exprs.length) return undefined;
  const r = await run(t, calendarScript(exprs), 15_000);
  if (r.code !== 0) throw new Error(`systemd-analyze calendar failed: ${r.err}`);
  return longestGap(parseCalendar(r.out));
}

/** pg_stat_archiver on the leader (psql over the local socket as postgres). */
async function leaderArchiver(ctx: StepGroupContext): Promise<{ leader?: string; state?: ArchiverState }> {
  const got = await fetchCluster(ctx).catch(() => undefined);
  const leader = got?.cluster.members.find((m) => LEADER_ROLES.includes(m.role) && m.state === 'running')?.name;
  const h = ctx.inventory.hosts.find((x) => x.name === leader);
  const t = leader ? ctx.transports.get(leader) : undefined;
  if (!h || !t) return { leader };
  const port = patroniSettings(ctx.inventory, h).pgPort;
  const r = await run(t, archiverScript(port), 30_000);
  if (r.code !== 0) throw new CheckError(leader!, 'pg_stat_archiver', 'a row', r.err || `psql exit ${r.code}`);
  return { leader, state: parseArchiver(r.out) };
}

/** Every backup check; throws CheckError on the first that fails (`pgbackrest check` is retried within timeoutMs). */
export async function verifyBackups(ctx: StepGroupContext, o: { timeoutMs: number }): Promise<BackupReport> {
  const repo = repoHost(ctx.inventory)!;
  const t = ctx.transports.get(repo.name);
  if (!t) throw new CheckError(repo.name, 'pgbackrest check', 'a connected repository host', 'not connected');
  const s = backupSettings(ctx.inventory);
  const checked = await waitFor(
    async () => {
      const r = await run(t, checkScript(s.stanza), 120_000);
      return { ok: r.code === 0, value: r.out.trim() || `exit ${r.code}` };
    },
    { timeoutMs: o.timeoutMs, intervalMs: 3000, what: 'pgbackrest check' },
  );
  if (!checked.ok)
    throw new CheckError(
      repo.name,
      `pgbackrest --stanza=${s.stanza} check`,
      'exit 0 (the repository is reachable and archiving works)',
      errText(checked.value),
      await journal(t, PGBACKREST_UNIT),
    );
  const info = await readInfo(t, s.stanza);
  const allowed = allowedAgeSec(await scheduleGap(t, s), s);
  const now = Math.floor(Date.now() / 1000);
  const last = info.backups.filter((b) => !b.error).pop();
  const lastBackup = last ? { label: last.label, type: last.type, ageSec: now - last.stop } : undefined;
  if (!lastBackup || lastBackup.ageSec > allowed)
    throw new CheckError(
      repo.name,
      'last backup younger than the schedule allows',
      `a backup at most ${Math.round(allowed / 3600)} h old (longest gap between scheduled backups + backup_age_grace_hours)`,
      lastBackup ? `${lastBackup.label}, ${Math.round(lastBackup.ageSec / 3600)} h old` : 'no backup in the repository',
      await journal(t, 'pgbackrest-full.service'),
      'run pgha backup --type full, and look at systemctl list-timers pgbackrest-* on the backup host',
    );
  const { leader, state } = await leaderArchiver(ctx);
  if (state && archiveFailing(state))
    throw new CheckError(
      leader!,
      'WAL archiving',
      'pg_stat_archiver: last_archived_time newer than last_failed_time',
      `last failed ${state.lastFailedWal} at ${new Date(state.lastFailedTime! * 1000).toISOString()}, last archived ${state.lastArchivedWal || 'never'}`,
      await journal(ctx.transports.get(leader!), 'patroni'),
    );
  return {
    repo: repo.name,
    stanza: s.stanza,
    info,
    check: errText(checked.value),
    ...(lastBackup ? { lastBackup } : {}),
    allowedAgeSec: allowed,
    ...(leader ? { leader } : {}),
    ...(state ? { archiver: state } : {}),
  };
}
