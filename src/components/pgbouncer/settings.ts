// PgBouncer's inventory variables, its secret and the rules across them (pool sizes against each other and against
// PostgreSQL's max_connections; every port different). It runs on the postgres hosts and declares no role. The
// pooled HAProxy ports are declared here, with the component that brings them. Read them with pgbouncerSettings().
import type { Host, Inventory } from '../../inventory/types.js';
import type { VarRule } from '../../inventory/catalog.js';
import type { SecretSpec } from '../../engine/secrets.js';
import { defineSettings } from '../settings.js';
import { haproxyVars } from '../haproxy/settings.js';
import { patroniVars } from '../patroni/settings.js';

export const PGBOUNCER_SECRETS: SecretSpec[] = [
  { key: 'pgbouncer_auth_password', length: 32, description: "PgBouncer's auth_query role (auth_user)" },
];

const port = (name: string, def: number, doc: string) =>
  ({ name, type: 'int', default: def, min: 1, max: 65535, level: 'cluster', doc: `${doc} (1-65535).` }) as const;

export const pgbouncerVars = defineSettings(
  {
    enabled: {
      name: 'pgbouncer_enabled',
      type: 'bool',
      default: false,
      level: 'cluster',
      doc:
        'Connection pooling: PgBouncer (transaction pooling) on every postgres host and pooled HAProxy ports ' +
        '(default false: transaction pooling changes what a session may rely on, so it is chosen, not imposed).',
    },
    port: port('pgbouncer_port', 6432, "PgBouncer's port on each postgres host's own address (default 6432)"),
    maxClientConn: {
      name: 'pgbouncer_max_client_conn',
      type: 'int',
      default: 1000,
      min: 1,
      max: 100000,
      level: 'host',
      doc: 'Client connections one PgBouncer accepts (default 1000) (1-100000).',
    },
    defaultPoolSize: {
      name: 'pgbouncer_default_pool_size',
      type: 'int',
      default: 20,
      min: 1,
      max: 10000,
      level: 'host',
      doc: 'Server connections per database and user pair (default 20) (1-10000).',
    },
    minPoolSize: {
      name: 'pgbouncer_min_pool_size',
      type: 'int',
      default: 0,
      min: 0,
      max: 10000,
      level: 'host',
      doc: 'Server connections kept open per pool even when idle (default 0) (0-10000, at most the default pool size).',
    },
    reservePoolSize: {
      name: 'pgbouncer_reserve_pool_size',
      type: 'int',
      default: 5,
      min: 0,
      max: 10000,
      level: 'host',
      doc: 'Extra server connections a pool may open when clients wait (default 5) (0-10000).',
    },
    reservePoolTimeout: {
      name: 'pgbouncer_reserve_pool_timeout',
      type: 'int',
      default: 3,
      min: 0,
      max: 3600,
      level: 'host',
      doc: 'Seconds a client waits before the reserve pool is used (default 3) (0-3600).',
    },
    maxDbConnections: {
      name: 'pgbouncer_max_db_connections',
      type: 'int',
      default: 0,
      min: 0,
      max: 100000,
      level: 'host',
      doc: 'Server connections per database over all its pools; 0 (default) means no limit (0-100000).',
    },
    authUser: {
      name: 'pgbouncer_auth_user',
      type: 'string',
      default: 'pgbouncer_auth',
      pattern: '^[a-z_][a-z0-9_]*$',
      level: 'cluster',
      doc: 'PostgreSQL role PgBouncer runs its auth_query as (default pgbouncer_auth; password in secrets).',
    },
    pooledPrimaryPort: port(
      'haproxy_pooled_primary_port',
      6001,
      'HAProxy port routed to the primary through its PgBouncer, with pgbouncer_enabled (default 6001)',
    ),
    pooledReplicaPort: port(
      'haproxy_pooled_replica_port',
      6002,
      'HAProxy port routed to the replicas through their PgBouncer, with pgbouncer_enabled (default 6002)',
    ),
    pooledAllPort: port(
      'haproxy_pooled_all_port',
      6010,
      'HAProxy port balanced over every running member through its PgBouncer, with pgbouncer_enabled (default 6010)',
    ),
  },
  [
    {
      uses: ['minPoolSize', 'defaultPoolSize', 'enabled'],
      roles: ['postgres'],
      check: (s) =>
        !s.enabled || s.minPoolSize <= s.defaultPoolSize
          ? undefined
          : `pgbouncer_min_pool_size (${s.minPoolSize}) must not exceed pgbouncer_default_pool_size (${s.defaultPoolSize})`,
    },
    {
      uses: ['maxDbConnections', 'defaultPoolSize', 'enabled'],
      roles: ['postgres'],
      check: (s) =>
        !s.enabled || s.maxDbConnections === 0 || s.defaultPoolSize <= s.maxDbConnections
          ? undefined
          : `pgbouncer_default_pool_size (${s.defaultPoolSize}) must not exceed pgbouncer_max_db_connections (${s.maxDbConnections}), or set that to 0 (no limit)`,
    },
  ],
);

export type PgbouncerSettings = ReturnType<typeof pgbouncerVars.read>;

export function pgbouncerSettings(inv: Pick<Inventory, 'file'>, host: Host): PgbouncerSettings {
  return pgbouncerVars.read(inv, host);
}

/** Whether pooling is on, as this host reads it (a cluster-level switch: set it in the top-level vars). */
export function poolingEnabled(inv: Pick<Inventory, 'file'>, host: Host): boolean {
  return pgbouncerSettings(inv, host).enabled;
}

const int = (v: unknown, def: number): number => (typeof v === 'number' && Number.isInteger(v) ? v : def);

/** One host's value of another component's int variable (its default when unset or of the wrong type). */
function intVar(
  vars: Record<string, unknown>,
  decls: { list: readonly { name: string; default: unknown }[] },
  name: string,
) {
  const d = decls.list.find((x) => x.name === name)!;
  return int(vars[name], d.default as number);
}

/**
 * With pooling on: the pooled ports differ from each other and from HAProxy's other ports, PgBouncer's port from
 * PostgreSQL's and Patroni's, and a pool (default + reserve) fits in PostgreSQL's max_connections. The pointer names
 * the first of `vars` set where the host's value comes from, so the pooled ports come first.
 */
export const pgbouncerCrossRules: VarRule[] = [
  {
    vars: [
      'haproxy_pooled_primary_port',
      'haproxy_pooled_replica_port',
      'haproxy_pooled_all_port',
      'pgbouncer_port',
      'haproxy_primary_port',
      'haproxy_replica_port',
      'haproxy_all_port',
      'haproxy_stats_port',
      'postgres_port',
      'patroni_restapi_port',
    ],
    roles: ['postgres', 'haproxy'],
    check(vars) {
      if (vars.pgbouncer_enabled !== true) return undefined;
      const of = (name: string, decls: typeof haproxyVars | typeof patroniVars | typeof pgbouncerVars) =>
        [name, intVar(vars, decls, name)] as const;
      const balancer = [
        of('haproxy_pooled_primary_port', pgbouncerVars),
        of('haproxy_pooled_replica_port', pgbouncerVars),
        of('haproxy_pooled_all_port', pgbouncerVars),
        of('haproxy_primary_port', haproxyVars),
        of('haproxy_replica_port', haproxyVars),
        of('haproxy_all_port', haproxyVars),
        of('haproxy_stats_port', haproxyVars),
      ];
      const member = [
        of('pgbouncer_port', pgbouncerVars),
        of('postgres_port', patroniVars),
        of('patroni_restapi_port', patroniVars),
      ];
      // Each pooled port against every other balancer port, PgBouncer's against the other member ports.
      for (const [subjects, all] of [
        [balancer.slice(0, 3), balancer],
        [member.slice(0, 1), member],
      ] as const)
        for (const [name, value] of subjects)
          for (const [other, v] of all)
            if (other !== name && v === value)
              return `${name} (${value}) equals ${other}: every port must be different`;
      return undefined;
    },
  },
  {
    vars: ['pgbouncer_default_pool_size', 'pgbouncer_reserve_pool_size', 'postgres_parameters'],
    roles: ['postgres'],
    check(vars) {
      if (vars.pgbouncer_enabled !== true) return undefined;
      const pool = intVar(vars, pgbouncerVars, 'pgbouncer_default_pool_size');
      const reserve = intVar(vars, pgbouncerVars, 'pgbouncer_reserve_pool_size');
      const params = {
        ...(patroniVars.defaults.postgres_parameters as object),
        ...(vars.postgres_parameters as object),
      };
      const max = Number((params as Record<string, unknown>).max_connections);
      if (!Number.isFinite(max) || pool + reserve < max) return undefined;
      return `pgbouncer_default_pool_size + pgbouncer_reserve_pool_size (${pool} + ${reserve}) must stay below PostgreSQL's max_connections (${max}): one pool could take every connection; lower the pool or raise postgres_parameters.max_connections`;
    },
  },
];
