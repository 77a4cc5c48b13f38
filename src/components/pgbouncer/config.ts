// PgBouncer's files on a member: pgbouncer.ini (transaction pooling, auth_query, the inventory's pool sizes) and
// userlist.txt (the auth role only). Whether a change needs a restart is decided from what changed.
import type { FileResource, StepContext } from '../../engine/types.js';
import { patroniSettings } from '../patroni/settings.js';
import { secret } from '../secrets.js';
import { pgbouncerSettings } from './settings.js';

export const PGBOUNCER_INI = '/etc/pgbouncer/pgbouncer.ini';
export const PGBOUNCER_USERLIST = '/etc/pgbouncer/userlist.txt';

/**
 * [pgbouncer] settings PgBouncer 1.18 reads only at start (CF_NO_RELOAD in its src/main.c): a reload keeps the old
 * value silently, so a change of one of them is a restart.
 */
export const RESTART_ONLY = [
  'job_name',
  'service_name',
  'pidfile',
  'listen_addr',
  'listen_port',
  'listen_backlog',
  'unix_socket_dir',
  'unix_socket_mode',
  'unix_socket_group',
  'user',
  'so_reuseport',
  'pkt_buf',
  'disable_pqexec',
  'resolv_conf',
];

/** The [pgbouncer] section as key -> value (keys lower case; ; and # start comments; later lines win). */
export function iniSettings(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith(';') || line.startsWith('#')) continue;
    const sect = /^\[(.+)\]$/.exec(line);
    if (sect) {
      section = sect[1]!.trim().toLowerCase();
      continue;
    }
    const eq = line.indexOf('=');
    if (section !== 'pgbouncer' || eq < 0) continue;
    out[line.slice(0, eq).trim().toLowerCase()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** restart when a start-only setting differs (or there is no config yet), reload otherwise; with the reason. */
export function changeAction(
  current: string | undefined,
  wanted: string,
): { action: 'restart' | 'reload'; why: string } {
  if (current === undefined) return { action: 'restart', why: 'no config yet' };
  const a = iniSettings(current);
  const b = iniSettings(wanted);
  const changed = RESTART_ONLY.filter((k) => (a[k] ?? '') !== (b[k] ?? ''));
  return changed.length
    ? { action: 'restart', why: `${changed.join(', ')} changed (read at start only)` }
    : { action: 'reload', why: 'only settings a reload applies changed' };
}

export function pgbouncerIni(ctx: StepContext): string {
  const s = pgbouncerSettings(ctx.inventory, ctx.host);
  return ctx.render('pgbouncer/pgbouncer.ini.hbs', {
    pg_port: patroniSettings(ctx.inventory, ctx.host).pgPort,
    listen_addr: ctx.host.address,
    port: s.port,
    auth_user: s.authUser,
    max_client_conn: s.maxClientConn,
    default_pool_size: s.defaultPoolSize,
    min_pool_size: s.minPoolSize,
    reserve_pool_size: s.reservePoolSize,
    reserve_pool_timeout: s.reservePoolTimeout,
    max_db_connections: s.maxDbConnections,
  });
}

/** The config and the userlist; `current` is the ini on the host (facts), deciding restart or reload. */
export function pgbouncerFiles(ctx: StepContext, current: string | undefined): FileResource[] {
  const s = pgbouncerSettings(ctx.inventory, ctx.host);
  const ini = pgbouncerIni(ctx);
  const { action } = changeAction(current, ini);
  // userlist.txt quotes a name and a password in double quotes; a double quote inside is doubled.
  const password = secret(ctx, 'pgbouncer_auth_password').replace(/"/g, '""');
  return [
    {
      kind: 'file',
      path: PGBOUNCER_USERLIST,
      content: ctx.render('pgbouncer/userlist.txt.hbs', { auth_user: s.authUser, password }),
      owner: 'postgres',
      group: 'postgres',
      mode: '0600',
      secret: true,
      notify: [{ service: 'pgbouncer', action: 'reload' }],
    },
    {
      kind: 'file',
      path: PGBOUNCER_INI,
      content: ini,
      owner: 'postgres',
      group: 'postgres',
      mode: '0640',
      notify: [{ service: 'pgbouncer', action }],
    },
  ];
}
