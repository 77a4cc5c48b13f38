// PostgreSQL + Patroni: inventory variables, the timing rule across them, the postgres role and the secrets.
// Read them with patroniSettings(inv, host).
import type { Host, Inventory } from '../../inventory/types.js';
import type { MapValue, RoleDecl } from '../../inventory/catalog.js';
import type { SecretSpec } from '../../engine/secrets.js';
import { defineSettings } from '../settings.js';
import { sameMapValue } from '../../inventory/vars.js';
import { archiveParameters } from '../backup/settings.js';

export const PATRONI_ROLES: RoleDecl[] = [{ name: 'postgres', doc: 'PostgreSQL 15 + Patroni' }];

export const PATRONI_SECRETS: SecretSpec[] = [
  { key: 'postgres_superuser_password', length: 32, description: 'PostgreSQL superuser "postgres" (Patroni, verify)' },
  { key: 'replication_password', length: 32, description: 'PostgreSQL replication user (streaming, pg_basebackup)' },
  { key: 'rewind_password', length: 32, description: 'PostgreSQL pg_rewind user' },
  {
    key: 'patroni_api_password',
    length: 32,
    description: 'Basic auth of Patroni REST API unsafe methods (PATCH/POST)',
  },
];

const USER = '^[a-z_][a-z0-9_]*$';

/**
 * PostgreSQL parameters Patroni sets only from the DCS (patroni/postgresql/config.py, ConfigHandler.CMDLINE_OPTIONS):
 * it passes them to the postmaster on its command line and drops them from a member's own config.yml. The first
 * three it derives itself (postgresql.listen, the scope); the others must be equal on every member.
 */
export const DCS_ONLY_PARAMETERS = [
  'listen_addresses',
  'port',
  'cluster_name',
  'wal_level',
  'hot_standby',
  'max_connections',
  'max_wal_senders',
  'wal_keep_segments',
  'wal_keep_size',
  'max_prepared_transactions',
  'max_locks_per_transaction',
  'track_commit_timestamp',
  'max_replication_slots',
  'max_worker_processes',
  'wal_log_hints',
] as const;

export const patroniVars = defineSettings(
  {
    pgVersion: {
      name: 'postgres_version',
      type: 'int',
      default: 15,
      min: 10,
      max: 99,
      level: 'cluster',
      doc: 'PostgreSQL major version (default 15, the Debian 12 one).',
    },
    pgPort: {
      name: 'postgres_port',
      type: 'int',
      default: 5432,
      min: 1,
      max: 65535,
      level: 'cluster',
      doc: 'PostgreSQL port on each member (default 5432) (1-65535).',
    },
    pgDataDir: {
      name: 'postgres_data_dir',
      type: 'string',
      default: '',
      pattern: '^(/[A-Za-z0-9_./-]+)?$',
      level: 'host',
      doc: 'PostgreSQL data directory (default /var/lib/postgresql/<version>/patroni).',
    },
    scope: {
      name: 'patroni_scope',
      type: 'string',
      default: '',
      pattern: '^[A-Za-z0-9_.-]*$',
      level: 'cluster',
      doc: "Patroni scope, the cluster's key in etcd (default: the cluster name).",
    },
    namespace: {
      name: 'patroni_namespace',
      type: 'string',
      default: '/service/',
      pattern: '^/[A-Za-z0-9_./-]*$',
      level: 'cluster',
      doc: 'Patroni key prefix in etcd (default /service/).',
    },
    apiPort: {
      name: 'patroni_restapi_port',
      type: 'int',
      default: 8008,
      min: 1,
      max: 65535,
      level: 'cluster',
      doc: 'Patroni REST API port, also what HAProxy checks (default 8008) (1-65535).',
    },
    apiUser: {
      name: 'patroni_api_user',
      type: 'string',
      default: 'patroni',
      pattern: '^[A-Za-z0-9_]+$',
      level: 'cluster',
      doc: "User for the Patroni REST API's unsafe methods (default patroni; password in secrets).",
    },
    superuser: {
      name: 'postgres_superuser',
      type: 'string',
      default: 'postgres',
      pattern: USER,
      level: 'cluster',
      doc: 'PostgreSQL superuser (default postgres).',
    },
    replicationUser: {
      name: 'postgres_replication_user',
      type: 'string',
      default: 'replicator',
      pattern: USER,
      level: 'cluster',
      doc: 'PostgreSQL replication user (default replicator).',
    },
    rewindUser: {
      name: 'postgres_rewind_user',
      type: 'string',
      default: 'rewind_user',
      pattern: USER,
      level: 'cluster',
      doc: 'PostgreSQL pg_rewind user (default rewind_user).',
    },
    // Failover timing. A hard-killed leader's key expires ttl - loop_wait .. ttl seconds after the loss; the
    // replicas then race and one promotes (1-2 s), and HAProxy marks it up after rise x inter (1 s). With
    // ttl 8 / loop_wait 2 / retry_timeout 3 writes through VIP:5001 work again within about 10 s.
    // The trade-off: the primary demotes itself when it cannot refresh its key in the DCS for `ttl` seconds,
    // so etcd hiccups longer than retry_timeout (3 s) cost a failover, and each member talks to etcd every 2 s.
    // Patroni 3.0.2 does not check loop_wait + 2 * retry_timeout <= ttl (3.2+ raises ttl to 20): the rule below does.
    ttl: {
      name: 'patroni_ttl',
      type: 'int',
      default: 8,
      min: 2,
      max: 3600,
      level: 'cluster',
      doc: 'Patroni leader lease in seconds (bootstrap.dcs.ttl; default 8). A hard-killed primary is replaced after at most this long. Rule: patroni_loop_wait + 2 * patroni_retry_timeout <= patroni_ttl. A change on a running cluster is applied with PATCH /config.',
    },
    loopWait: {
      name: 'patroni_loop_wait',
      type: 'int',
      default: 2,
      min: 1,
      max: 3600,
      level: 'cluster',
      doc: 'Seconds between Patroni HA loop runs; the leader refreshes its lease this often (default 2).',
    },
    retryTimeout: {
      name: 'patroni_retry_timeout',
      type: 'int',
      default: 3,
      min: 1,
      max: 3600,
      level: 'cluster',
      doc: 'Seconds Patroni retries etcd and PostgreSQL operations before demoting (default 3).',
    },
    maxLagOnFailover: {
      name: 'patroni_maximum_lag_on_failover',
      type: 'int',
      default: 1048576,
      level: 'cluster',
      doc: 'Bytes a replica may lag and still be promoted (default 1048576).',
    },
    restartInPlace: {
      name: 'patroni_restart_in_place',
      type: 'bool',
      default: false,
      level: 'cluster',
      doc:
        'Restart a leader that needs a restart in place (a short write outage) instead of switching over to a ' +
        'healthy replica first and restarting it as a replica (default false). `pgha restart --in-place` does the same once.',
    },
    synchronousMode: {
      name: 'patroni_synchronous_mode',
      type: 'bool',
      default: true,
      level: 'cluster',
      doc:
        'Patroni synchronous replication: a commit waits for one synchronous replica, so a failover never loses an ' +
        'acknowledged write (default true). false: asynchronous, a failover can lose the last writes the old leader acknowledged.',
    },
    synchronousNodeCount: {
      name: 'patroni_synchronous_node_count',
      type: 'int',
      default: 1,
      min: 1,
      max: 16,
      level: 'cluster',
      doc:
        'With patroni_synchronous_mode: how many replicas confirm each commit (default 1). `pgha switchover --to HOST` ' +
        'raises it for the moment of the handover when HOST is not a synchronous standby, and sets it back.',
    },
    synchronousModeStrict: {
      name: 'patroni_synchronous_mode_strict',
      type: 'bool',
      default: false,
      level: 'cluster',
      doc: 'With patroni_synchronous_mode: stop accepting writes when no synchronous replica is available (default false).',
    },
    // Two levels: the top-level vars' map goes to the DCS (PATCH /config, the same for every member); a group's
    // or host's map goes to that host's config.yml (postgresql.parameters, over the DCS values). Parameters that
    // need a restart get a rolling restart (patroni.restart step).
    pgParameters: {
      name: 'postgres_parameters',
      type: 'map',
      keyPattern: '^[a-z_][a-z0-9_.]*$',
      level: 'host',
      default: {
        max_connections: 200,
        shared_buffers: '128MB',
        wal_level: 'replica',
        hot_standby: 'on',
        wal_log_hints: 'on',
        max_wal_senders: 10,
        max_replication_slots: 10,
        wal_keep_size: '256MB',
        password_encryption: 'scram-sha-256',
      },
      clusterOnly: {
        keys: DCS_ONLY_PARAMETERS,
        why: "Patroni ignores it in a member's own config.yml and takes it from the DCS only (it must be equal on every member)",
      },
      doc: "PostgreSQL settings (GUCs), merged over pgha's defaults, e.g. {max_connections: 200, shared_buffers: 256MB}. In the top-level vars: for every member, kept in the DCS (PATCH /config; a parameter removed here is removed there). In a group's or host's vars: for those hosts only, in their /etc/patroni/config.yml (over the DCS values; host over group). Parameters Patroni takes from the DCS only (max_connections, wal_level, ...) are refused there when they differ from the cluster-wide value. Settings that need a restart get a rolling restart (replicas first, the leader last).",
    },
    replicaMaxLag: {
      name: 'replica_max_lag_bytes',
      type: 'int',
      default: 16777216,
      level: 'cluster',
      doc: 'Largest replica lag in bytes the checks accept (default 16777216).',
    },
  },
  [
    {
      uses: ['ttl', 'loopWait', 'retryTimeout'],
      roles: ['postgres'],
      check: (s) =>
        s.loopWait + 2 * s.retryTimeout <= s.ttl
          ? undefined
          : `patroni_loop_wait + 2 * patroni_retry_timeout (${s.loopWait} + 2 * ${s.retryTimeout}) must not exceed patroni_ttl (${s.ttl}): the leader would lose its lock on a short etcd delay; raise patroni_ttl or lower the others`,
    },
  ],
);

/** Patroni's settings for one host, with the derived ones (data and bin dirs, scope). */
export function patroniSettings(inv: Pick<Inventory, 'file' | 'cluster'>, host: Host) {
  const s = patroniVars.read(inv, host);
  return {
    ...s,
    pgDataDir: s.pgDataDir || `/var/lib/postgresql/${s.pgVersion}/patroni`,
    pgBinDir: `/usr/lib/postgresql/${s.pgVersion}/bin`,
    scope: s.scope || inv.cluster,
  };
}

export type PatroniSettings = ReturnType<typeof patroniSettings>;

/** Keys in a stable order: rendered configs and request bodies must not change between runs. */
function sorted(m: Record<string, MapValue>): Record<string, MapValue> {
  return Object.fromEntries(Object.entries(m).sort(([a], [b]) => a.localeCompare(b)));
}

type ParamInventory = Pick<Inventory, 'file' | 'vars' | 'cluster' | 'hosts'>;

/**
 * The cluster-wide PostgreSQL parameters (top-level vars over the defaults, and what backups need: archive_mode,
 * archive_command): what the DCS holds.
 */
export function clusterParameters(inv: ParamInventory, host: Host): Record<string, MapValue> {
  // Only the map is read from the top-level vars: the others are the host's (and keep their defaults here).
  const vars = inv.vars?.postgres_parameters === undefined ? {} : { postgres_parameters: inv.vars.postgres_parameters };
  return sorted({ ...patroniVars.read(inv, { ...host, vars }).pgParameters, ...archiveParameters(inv) });
}

/** The parameters one member should run with: its own map (group and host vars over the cluster's) and the backups'. */
export function memberParameters(inv: ParamInventory, host: Host): Record<string, MapValue> {
  return sorted({ ...patroniVars.read(inv, host).pgParameters, ...archiveParameters(inv) });
}

/**
 * The parameters of one host's own config.yml: those its groups' or its own vars set to another value than the
 * cluster-wide one (an equal value changes nothing). Patroni applies them over the DCS ones.
 */
export function localParameters(inv: ParamInventory, host: Host): Record<string, MapValue> {
  const cluster = clusterParameters(inv, host);
  const mine = memberParameters(inv, host);
  return Object.fromEntries(Object.entries(mine).filter(([k, v]) => !sameMapValue(v, cluster[k])));
}
