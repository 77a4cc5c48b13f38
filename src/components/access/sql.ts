// The roles and databases the inventory declares, on the leader: one read of what PostgreSQL holds (a fact, JSON
// from the catalogs) and the statements that make it so. Passwords reach PostgreSQL as SCRAM verifiers, in SQL
// sent on stdin: never a command line, never the clear text.
import type { FactSpec } from '../../engine/types.js';
import type { Access } from './settings.js';
import { PGHA_DATABASE } from './settings.js';
import { scramMatches, scramVerifier } from './scram.js';

export const SOCKET_DIR = '/var/run/postgresql';

/** psql as the postgres OS user over the local socket; what `args` puts on its command line holds no secret. */
export function localPsql(port: number, args: string, db = 'postgres'): string {
  return `runuser -u postgres -- psql -X -At -v ON_ERROR_STOP=1 -h ${SOCKET_DIR} -p ${port} -d ${db} ${args}`;
}

export interface RoleRow {
  name: string;
  login: boolean;
  super: boolean;
  limit: number;
  verifier: string | null;
}
export interface DatabaseRow {
  name: string;
  owner: string;
}
export interface AccessFacts {
  /** This member is the primary (false on a replica, undefined when PostgreSQL did not answer). */
  primary?: boolean;
  roles: RoleRow[];
  databases: DatabaseRow[];
}

const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

/** The catalog query: the named roles and databases, and whether this member is the primary. */
export function accessQuery(roles: readonly string[], databases: readonly string[]): string {
  const arr = (xs: readonly string[]) => `ARRAY[${xs.map(lit).join(',')}]::text[]`;
  return (
    "select json_build_object('primary', not pg_is_in_recovery(), " +
    "'roles', (select coalesce(json_agg(json_build_object('name', rolname, 'login', rolcanlogin, 'super', rolsuper, " +
    `'limit', rolconnlimit, 'verifier', rolpassword) order by rolname), '[]') from pg_authid where rolname = any(${arr(roles)})), ` +
    "'databases', (select coalesce(json_agg(json_build_object('name', datname, 'owner', pg_get_userbyid(datdba)) " +
    `order by datname), '[]') from pg_database where datname = any(${arr(databases)})))`
  );
}

/** The fact: `none` when PostgreSQL does not answer (not running yet, or stopped). */
export function accessFact(
  port: number,
  roles: readonly string[],
  databases: readonly string[],
): FactSpec<AccessFacts> {
  return {
    script: `${localPsql(port, '-f -')} <<'PGHA_SQL' 2>/dev/null || echo none\n${accessQuery(roles, databases)};\nPGHA_SQL`,
    parse: parseAccessFacts,
  };
}

export function parseAccessFacts(out: string): AccessFacts {
  const text = out.trim();
  if (text === 'none' || text === '') return { roles: [], databases: [] };
  const j = JSON.parse(text) as { primary: boolean; roles: RoleRow[]; databases: DatabaseRow[] };
  if (typeof j.primary !== 'boolean' || !Array.isArray(j.roles) || !Array.isArray(j.databases))
    throw new Error(`unexpected answer from PostgreSQL: ${text.slice(0, 200)}`);
  return { primary: j.primary, roles: j.roles, databases: j.databases };
}

export interface AccessChange {
  /** What changes, for plan (no secret in it). */
  label: string;
  sql: string;
}

/**
 * The statements that bring PostgreSQL to the declared roles and databases (none when it is there already).
 * `passwords` holds each user's password; `superuser` owns the pgha database. `system`: the roles Patroni
 * creates (superuser, replication, rewind) with the password the secrets file holds: a role whose stored
 * verifier is not of that password gets it (after `pgha rotate-secrets`, or a run it did not finish).
 */
export function accessChanges(
  a: Access,
  facts: AccessFacts,
  passwords: Record<string, string>,
  superuser: string,
  system: readonly { name: string; password: string }[] = [],
): AccessChange[] {
  const out: AccessChange[] = [];
  for (const r of system) {
    const have = facts.roles.find((x) => x.name === r.name);
    if (have && !scramMatches(r.password, have.verifier))
      out.push({
        label: `set the password of ${r.name}`,
        sql: `ALTER ROLE ${ident(r.name)} PASSWORD ${lit(scramVerifier(r.password))};`,
      });
  }
  for (const u of a.users) {
    const have = facts.roles.find((r) => r.name === u.name);
    const pw = passwords[u.name];
    if (pw === undefined) throw new Error(`no password for ${u.name}`);
    const attrs = `LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE CONNECTION LIMIT ${u.connectionLimit}`;
    if (!have) {
      out.push({
        label: `create role ${u.name}`,
        sql: `CREATE ROLE ${ident(u.name)} ${attrs} PASSWORD ${lit(scramVerifier(pw))};`,
      });
      continue;
    }
    if (!have.login || have.super || have.limit !== u.connectionLimit)
      out.push({
        label: `alter role ${u.name} (${attrs.toLowerCase()})`,
        sql: `ALTER ROLE ${ident(u.name)} ${attrs};`,
      });
    if (!scramMatches(pw, have.verifier))
      out.push({
        label: `set the password of ${u.name}`,
        sql: `ALTER ROLE ${ident(u.name)} PASSWORD ${lit(scramVerifier(pw))};`,
      });
  }
  const dbs = [
    { name: PGHA_DATABASE, owner: superuser, encoding: 'UTF8' } as Access['databases'][number],
    ...a.databases,
  ];
  for (const d of dbs) {
    const have = facts.databases.find((x) => x.name === d.name);
    if (!have) {
      const locale = [
        d.lcCollate ? ` LC_COLLATE ${lit(d.lcCollate)}` : '',
        d.lcCtype ? ` LC_CTYPE ${lit(d.lcCtype)}` : '',
      ].join('');
      out.push({
        label: `create database ${d.name} (owner ${d.owner})`,
        sql: `CREATE DATABASE ${ident(d.name)} OWNER ${ident(d.owner)} ENCODING ${lit(d.encoding)}${locale} TEMPLATE template0;`,
      });
    } else if (have.owner !== d.owner) {
      out.push({
        label: `database ${d.name}: owner ${have.owner} -> ${d.owner}`,
        sql: `ALTER DATABASE ${ident(d.name)} OWNER TO ${ident(d.owner)};`,
      });
    }
  }
  return out;
}
