// Application access declared in the inventory: databases, roles (their passwords live in the secrets file) and
// pg_hba rules. Field names follow the usual Ansible ones (community.postgresql, autobase): name, owner,
// encoding, lc_collate, lc_ctype; type, database, user, address, method.
import type { Host, Inventory } from '../../inventory/types.js';
import type { SecretSpec } from '../../engine/secrets.js';
import { defineSettings } from '../settings.js';

const NAME = '^[a-z_][a-z0-9_]{0,62}$';
/** The database `pgha verify` writes into (created by pgha, owned by the superuser). */
export const PGHA_DATABASE = 'pgha';
/** Names pgha uses itself: no declared database or user may take them. */
const RESERVED_DATABASES = ['postgres', 'template0', 'template1', PGHA_DATABASE];

const databaseItem = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'owner'],
  properties: {
    name: { type: 'string', pattern: NAME, description: 'Database name.' },
    owner: { type: 'string', pattern: NAME, description: 'Owner: a user of postgres_users.' },
    encoding: { type: 'string', pattern: '^[A-Za-z0-9_]+$', description: 'Encoding at creation (default UTF8).' },
    lc_collate: { type: 'string', pattern: '^[A-Za-z0-9_.@-]+$', description: 'LC_COLLATE at creation.' },
    lc_ctype: { type: 'string', pattern: '^[A-Za-z0-9_.@-]+$', description: 'LC_CTYPE at creation.' },
  },
};

const userItem = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', pattern: NAME, description: 'Role name (LOGIN, no superuser, no CREATEROLE).' },
    connection_limit: {
      type: 'integer',
      minimum: -1,
      description: 'CONNECTION LIMIT (default -1: none).',
    },
  },
};

const CIDR = '^([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}$';
const hbaItem = {
  type: 'object',
  additionalProperties: false,
  required: ['database', 'user', 'address'],
  properties: {
    type: {
      enum: ['host', 'hostssl', 'hostnossl'],
      description: 'Connection type (default host; becomes hostssl with tls_enabled).',
    },
    database: {
      type: 'string',
      pattern: '^([a-z_][a-z0-9_]*|all)(,[a-z_][a-z0-9_]*)*$',
      description: 'Database(s): names, comma-separated, or all.',
    },
    user: {
      type: 'string',
      pattern: '^([a-z_][a-z0-9_]*|all)(,[a-z_][a-z0-9_]*)*$',
      description: 'User(s): names, comma-separated, or all.',
    },
    address: { type: 'string', pattern: CIDR, description: 'Client addresses, IPv4 CIDR.' },
    method: {
      enum: ['scram-sha-256', 'reject'],
      description: 'Authentication (default scram-sha-256), or reject.',
    },
  },
};

export const accessVars = defineSettings(
  {
    databases: {
      name: 'postgres_databases',
      type: 'list',
      default: [],
      items: databaseItem,
      level: 'cluster',
      doc: 'Application databases created on the leader: [{name, owner, encoding?, lc_collate?, lc_ctype?}] (encoding and locale at creation only; the owner is kept).',
    },
    users: {
      name: 'postgres_users',
      type: 'list',
      default: [],
      items: userItem,
      level: 'cluster',
      doc: 'Application roles created on the leader: [{name, connection_limit?}]. The password is postgres_user_<name>_password in the secrets file (generated, or PGHA_SECRET_POSTGRES_USER_<NAME>_PASSWORD on first use). A user may connect to the databases it owns from the cluster network; postgres_hba gives more.',
    },
    hba: {
      name: 'postgres_hba',
      type: 'list',
      default: [],
      items: hbaItem,
      level: 'cluster',
      doc: "Extra pg_hba rules [{type?, database, user, address, method?}], after pgha's own (superuser, replication) and before the default ones of the applications (each user to its own databases from the cluster network).",
    },
  },
  [
    {
      uses: ['databases', 'users', 'hba'],
      check: (s) => accessProblem(parseAccess(s)),
    },
  ],
);

export interface DatabaseSpec {
  name: string;
  owner: string;
  encoding: string;
  lcCollate?: string;
  lcCtype?: string;
}
export interface UserSpec {
  name: string;
  connectionLimit: number;
}
export interface HbaSpec {
  type: 'host' | 'hostssl' | 'hostnossl';
  database: string;
  user: string;
  address: string;
  method: 'scram-sha-256' | 'reject';
}
export interface Access {
  databases: DatabaseSpec[];
  users: UserSpec[];
  hba: HbaSpec[];
}

type Raw = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function parseAccess(s: { databases: readonly Raw[]; users: readonly Raw[]; hba: readonly Raw[] }): Access {
  return {
    databases: s.databases.map((d) => ({
      name: String(d.name),
      owner: String(d.owner),
      encoding: str(d.encoding) ?? 'UTF8',
      ...(str(d.lc_collate) ? { lcCollate: str(d.lc_collate) } : {}),
      ...(str(d.lc_ctype) ? { lcCtype: str(d.lc_ctype) } : {}),
    })),
    users: s.users.map((u) => ({
      name: String(u.name),
      connectionLimit: typeof u.connection_limit === 'number' ? u.connection_limit : -1,
    })),
    hba: s.hba.map((h) => ({
      type: (str(h.type) ?? 'host') as HbaSpec['type'],
      database: String(h.database),
      user: String(h.user),
      address: String(h.address),
      method: (str(h.method) ?? 'scram-sha-256') as HbaSpec['method'],
    })),
  };
}

/** What the schema cannot see: duplicates, owners that are not declared, names pgha keeps for itself. */
export function accessProblem(a: Access, reservedUsers: readonly string[] = []): string | undefined {
  const dup = (xs: string[]) => xs.find((x, i) => xs.indexOf(x) !== i);
  const d = dup(a.databases.map((x) => x.name));
  if (d) return `postgres_databases declares ${d} twice`;
  const u = dup(a.users.map((x) => x.name));
  if (u) return `postgres_users declares ${u} twice`;
  const users = new Set(a.users.map((x) => x.name));
  for (const db of a.databases) {
    if (RESERVED_DATABASES.includes(db.name)) return `postgres_databases: ${db.name} is a database pgha keeps itself`;
    if (!users.has(db.owner))
      return `postgres_databases: the owner ${db.owner} of ${db.name} is not declared in postgres_users`;
  }
  for (const x of a.users)
    if (reservedUsers.includes(x.name)) return `postgres_users: ${x.name} is a role pgha manages itself`;
  return undefined;
}

/** The secrets file key of an application user's password. */
export const userSecretKey = (user: string) => `postgres_user_${user}_password`;

export function accessSettings(inv: Pick<Inventory, 'file'>, host: Host): Access {
  return parseAccess(accessVars.read(inv, host));
}

/** The password secrets of the users the inventory declares (on any host). */
export function accessSecrets(inv: Pick<Inventory, 'file' | 'hosts'>): SecretSpec[] {
  const names = new Set(inv.hosts.flatMap((h) => accessSettings(inv, h).users.map((u) => u.name)));
  return [...names].map((n) => ({
    key: userSecretKey(n),
    length: 32,
    description: `PostgreSQL application user ${n}`,
  }));
}
