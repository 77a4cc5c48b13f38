// auth_query for PgBouncer: a login role of its own (its password from the secrets file, sent to PostgreSQL only as
// a SCRAM verifier computed here) and a SECURITY DEFINER lookup function in every database. Both are created by one
// script on the current leader, its SQL on psql's stdin; a read-only check of the same things guards it.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { CommandResource } from '../../engine/types.js';
import { shq } from '../../engine/quote.js';
import { renderProgram } from '../common.js';

const ITERATIONS = 4096;

/** PostgreSQL's stored form of a SCRAM-SHA-256 password (what `\password` sends): no clear text leaves this machine. */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = ITERATIONS): string {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  const b64 = (b: Buffer) => b.toString('base64');
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(storedKey)}:${b64(serverKey)}`;
}

/** The per-database SQL and the marker its COMMENT carries: a changed function (or role) gets a new marker. */
export function functionSql(authUser: string): { sql: string; marker: string } {
  const body = renderProgram('pgbouncer/auth-function.sql.hbs', { auth_user: authUser, marker: '%MARKER%' });
  const marker = `pgha auth_query ${createHash('sha256').update(body).digest('hex').slice(0, 12)}`;
  return { sql: body.replace('%MARKER%', marker), marker };
}

export interface AuthInput {
  authUser: string;
  password: string;
  pgPort: number;
  /** Fixed in tests; random otherwise. */
  salt?: Buffer;
}

/** The read-only check: exit 0 when the role logs in with its password and every database has the current function. */
export function authCheckScript(a: AuthInput): string {
  return renderProgram('pgbouncer/auth-check.sh.hbs', {
    auth_user: a.authUser,
    password: shq(a.password),
    pg_port: a.pgPort,
    marker: functionSql(a.authUser).marker,
  });
}

/** The script creating (or correcting) the role and the function; idempotent SQL. */
export function authSetupScript(a: AuthInput): string {
  return renderProgram('pgbouncer/auth-setup.sh.hbs', {
    auth_user: a.authUser,
    pg_port: a.pgPort,
    role_sql: renderProgram('pgbouncer/auth-role.sql.hbs', {
      auth_user: a.authUser,
      verifier: scramVerifier(a.password, a.salt),
    }),
    function_sql: functionSql(a.authUser).sql,
  });
}

export function authCommand(a: AuthInput): CommandResource {
  return {
    kind: 'command',
    label: `auth_query role ${a.authUser} and function pgbouncer.get_auth in every database`,
    script: authSetupScript(a),
    unless: authCheckScript(a),
    explain: true,
    secrets: [a.password],
    timeoutMs: 120_000,
  };
}
