// PgBouncer checks: on each member, the admin console answers SHOW VERSION and a query through PgBouncer reaches the
// local PostgreSQL in the member's role; through the VIP, each pooled port reaches a server of the expected role.
import type { Host } from '../../inventory/types.js';
import type { StepContext, StepGroupContext, Transport } from '../../engine/types.js';
import { CheckError } from '../../util/errors.js';
import { shq } from '../../engine/quote.js';
import { waitFor } from '../../engine/wait.js';
import { patroniSettings } from '../patroni/settings.js';
import { secret } from '../secrets.js';
import { errText, journal } from '../common.js';
import { parsePatroniStatus } from '../patroni/facts.js';
import { pgbouncerSettings } from './settings.js';
import { LEADER_ROLE_NAMES } from './facts.js';
import { apiGetScript, patroniApi, patroniGet } from '../patroni/api.js';

/** A psql call as the auth role (its password exported by the script, which travels on stdin); the SQL on stdin too. */
function psqlAs(user: string, conn: string, sql: string): string {
  return `echo ${shq(sql)} | psql -X -At -v ON_ERROR_STOP=1 ${shq(`${conn} user=${user} connect_timeout=5`)} -f -`;
}

/**
 * SHOW VERSION on the admin console (no server login), then, once the auth role is in this member's database (a
 * replica gets it by replication), a query through PgBouncer. Never before: after a failed server login PgBouncer
 * refuses that pool for server_login_retry (15 s).
 */
export function memberCheckScript(o: {
  user: string;
  password: string;
  port: number;
  address: string;
  pgPort: number;
}): string {
  const roleThere = `SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname = '${o.user}'`;
  return [
    'set -e',
    `export PGPASSWORD=${shq(o.password)}`,
    psqlAs(o.user, `host=/var/run/postgresql port=${o.port} dbname=pgbouncer`, 'SHOW VERSION'),
    `n=$(echo ${shq(roleThere)} | runuser -u postgres -- psql -X -At -h /var/run/postgresql -p ${o.pgPort} -d postgres -f -)`,
    `if [ "$n" != 1 ]; then echo "role ${o.user} is not in this member's database yet" >&2; exit 3; fi`,
    psqlAs(o.user, `host=${o.address} port=${o.port} dbname=postgres`, 'SELECT pg_is_in_recovery()'),
  ].join('\n');
}

/** What the member check printed: PgBouncer's version and the recovery state of the server it reached. */
export function parseMemberCheck(stdout: string): { version: string; inRecovery?: boolean } {
  const lines = stdout.trim().split('\n');
  const version = lines.find((l) => /^PgBouncer /.test(l)) ?? '';
  const last = lines[lines.length - 1]?.trim();
  return { version, inRecovery: last === 't' ? true : last === 'f' ? false : undefined };
}

function memberScript(ctx: StepContext): string {
  const s = pgbouncerSettings(ctx.inventory, ctx.host);
  const password = secret(ctx, 'pgbouncer_auth_password');
  const { pgPort } = patroniSettings(ctx.inventory, ctx.host);
  return memberCheckScript({ user: s.authUser, password, port: s.port, address: ctx.host.address, pgPort });
}

/** What verifyPgbouncerMember reads (with pooling on): Patroni's /patroni, the member check. */
export function pgbouncerMemberReads(ctx: StepContext): string[] {
  if (!pgbouncerSettings(ctx.inventory, ctx.host).enabled) return [];
  return [apiGetScript(patroniApi(ctx.inventory, ctx.host), '/patroni'), memberScript(ctx)];
}

export async function verifyPgbouncerMember(ctx: StepContext, t: Transport, timeoutMs: number): Promise<void> {
  const password = secret(ctx, 'pgbouncer_auth_password');
  const script = memberScript(ctx);
  let want = '';
  const res = await waitFor(
    async () => {
      const st = parsePatroniStatus((await patroniGet(t, ctx.inventory, ctx.host, '/patroni')).body || '{}');
      const leader = LEADER_ROLE_NAMES.includes(st.role);
      want = `PgBouncer answers SHOW VERSION; a query through it answers pg_is_in_recovery() = ${!leader} (${st.role || '?'})`;
      const r = await t.exec(script, { secrets: [password], timeoutMs: 20_000 });
      const got = parseMemberCheck(r.stdout);
      if (r.code !== 0 || !got.version) return { ok: false, value: r.stderr.trim() || `psql exit ${r.code}` };
      return {
        ok: got.inRecovery === !leader,
        value: `${got.version}; pg_is_in_recovery() = ${got.inRecovery ?? '?'}, Patroni role ${st.role || '?'}`,
      };
    },
    { timeoutMs, intervalMs: 1000, what: 'pgbouncer answers' },
  );
  if (!res.ok)
    throw new CheckError(
      ctx.host.name,
      'pgbouncer answers',
      want || 'PgBouncer answers SHOW VERSION and a query',
      errText(res.value),
      await journal(t, 'pgbouncer'),
    );
  ctx.log(`${ctx.host.name}: ${String(res.value)}`);
}

export interface PooledResult {
  port: number;
  role: 'primary' | 'replica' | 'any';
  inRecovery: boolean;
}

/**
 * Through the VIP, from `client`: the pooled primary port reaches a server not in recovery, the pooled replica port
 * one in recovery, the pooled all-members port any member; as the auth role, whose login PgBouncer checks itself.
 */
export async function verifyPooledPorts(ctx: StepGroupContext, client: Host, vip: string): Promise<PooledResult[]> {
  const t = ctx.transports.get(client.name)!;
  const s = pgbouncerSettings(ctx.inventory, client);
  const password = secret(ctx, 'pgbouncer_auth_password');
  const ports = [
    { port: s.pooledPrimaryPort, role: 'primary', want: 'f' },
    { port: s.pooledReplicaPort, role: 'replica', want: 't' },
    { port: s.pooledAllPort, role: 'any', want: '' },
  ] as const;
  const out: PooledResult[] = [];
  for (const p of ports) {
    const script = `export PGPASSWORD=${shq(password)}\n${psqlAs(s.authUser, `host=${vip} port=${p.port} dbname=postgres`, 'SELECT pg_is_in_recovery()')}`;
    const res = await waitFor(
      async () => {
        const r = await t.exec(script, { secrets: [password], timeoutMs: 20_000 });
        const got = r.stdout.trim();
        const ok = r.code === 0 && (got === 't' || got === 'f') && (p.want === '' || got === p.want);
        return { ok, value: r.code === 0 ? `pg_is_in_recovery() = ${got}` : r.stderr.trim() || `psql exit ${r.code}` };
      },
      { timeoutMs: 15_000, intervalMs: 500, what: `pooled port ${p.port}` },
    );
    if (!res.ok)
      throw new CheckError(
        client.name,
        `query through ${vip}:${p.port} (PgBouncer)`,
        p.want === '' ? 'an answer from a member' : `an answer from the ${p.role} (pg_is_in_recovery() = ${p.want})`,
        errText(res.value),
      );
    out.push({ port: p.port, role: p.role, inRecovery: String(res.value).endsWith('= t') });
  }
  return out;
}
