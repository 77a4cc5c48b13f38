// Inventory variables the components read (from host.vars: cluster < group < host) and their defaults.
// This is the one place where a default lives; every component reads its settings through settingsFor().
import type { Host, Inventory } from '../inventory/types.js';
import { UserError } from '../engine/errors.js';

export const DEFAULTS = {
  // --- etcd (Debian etcd-server 3.4) ---
  /** Client port (Patroni's etcd3 DCS and etcdctl). */
  etcd_client_port: 2379,
  /** Peer (raft) port. */
  etcd_peer_port: 2380,
  /**
   * pgha's own data dir, not Debian's /var/lib/etcd/default: a member started by the package's postinst
   * (a one-node cluster) can never be mistaken for a member of this cluster.
   */
  etcd_data_dir: '/var/lib/etcd/pgha',
  /** Raft heartbeat / election timeout in ms (etcd's defaults; a LAN needs nothing else). */
  etcd_heartbeat_interval: 100,
  etcd_election_timeout: 1000,
  /** Initial cluster token; empty means `pgha-<cluster>` (a different cluster never merges with this one). */
  etcd_initial_cluster_token: '',

  // --- PostgreSQL + Patroni ---
  postgres_version: 15,
  postgres_port: 5432,
  /** Empty means /var/lib/postgresql/<version>/patroni (never Debian's `main`, which pgha drops). */
  postgres_data_dir: '',
  /** Patroni scope; empty means the inventory's cluster name. */
  patroni_scope: '',
  patroni_namespace: '/service/',
  patroni_restapi_port: 8008,
  patroni_api_user: 'patroni',
  postgres_superuser: 'postgres',
  postgres_replication_user: 'replicator',
  postgres_rewind_user: 'rewind_user',
  /**
   * Failover timing. A hard-killed leader's key expires ttl - loop_wait .. ttl seconds after the loss; the
   * replicas then race and one promotes (1-2 s), and HAProxy marks it up after rise x inter (1 s). With
   * ttl 8 / loop_wait 2 / retry_timeout 3 writes through VIP:5001 work again within about 10 s.
   * The trade-off: the primary demotes itself when it cannot refresh its key in the DCS for `ttl` seconds,
   * so etcd hiccups longer than retry_timeout (3 s) cost a failover, and each member talks to etcd every 2 s.
   * Keep loop_wait + 2 * retry_timeout <= ttl (Patroni 3.0.2 does not check it; 3.2+ raises ttl to 20).
   */
  patroni_ttl: 8,
  patroni_loop_wait: 2,
  patroni_retry_timeout: 3,
  /** A replica further behind (bytes) may not become leader. */
  patroni_maximum_lag_on_failover: 1048576,
  patroni_synchronous_mode: false,
  patroni_synchronous_mode_strict: false,
  /**
   * PostgreSQL parameters kept in the DCS (cluster-wide), merged over these defaults. Changing them later is
   * applied with PATCH /config; parameters that need a restart get a rolling restart (patroni.restart step).
   */
  postgres_parameters: {
    max_connections: 200,
    shared_buffers: '128MB',
    wal_level: 'replica',
    hot_standby: 'on',
    wal_log_hints: 'on',
    max_wal_senders: 10,
    max_replication_slots: 10,
    wal_keep_size: '256MB',
    password_encryption: 'scram-sha-256',
  } as Record<string, string | number | boolean>,
  /** Largest replica lag in bytes the checks accept (Patroni /cluster and HAProxy /replica?lag=). */
  replica_max_lag_bytes: 16777216,

  // --- HAProxy ---
  haproxy_primary_port: 5001,
  haproxy_replica_port: 5002,
  haproxy_all_port: 5010,
  haproxy_stats_port: 8404,
  haproxy_maxconn: 2000,
  haproxy_server_maxconn: 200,
  /**
   * Health checks against Patroni: every 1 s, 2 failures mark a server down, 1 success marks it up. A new
   * primary is in the 5001 pool at most about 1 s after Patroni promotes it; a lost one is out after ~2 s
   * (and its sessions are shut). Slower values lengthen the failover by (rise x inter).
   */
  haproxy_check_inter: '1s',
  haproxy_check_fall: 2,
  haproxy_check_rise: 1,

  // --- keepalived ---
  /** Interface for VRRP and the VIP; empty means the one carrying the host's address (read from the host). */
  keepalived_interface: '',
  /** VRRP router id 1-255; 0 means derived from the cluster name (stable across runs). */
  keepalived_virtual_router_id: 0,
  /** Unicast peers instead of multicast (for networks that drop VRRP multicast). */
  keepalived_unicast: false,
};

export type Defaults = typeof DEFAULTS;

function bad(inv: Inventory, host: Host, key: string, expected: string, got: unknown): UserError {
  return new UserError(
    `variable ${key} on host ${host.name} must be ${expected}, got ${JSON.stringify(got)}`,
    `fix vars.${key} in the inventory`,
    { file: inv.file, field: `vars.${key}` },
  );
}

function num(inv: Inventory, host: Host, key: keyof Defaults, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = host.vars[key] ?? DEFAULTS[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw bad(inv, host, key, `an integer ${min}..${max}`, v);
  }
  return v;
}

function str(inv: Inventory, host: Host, key: keyof Defaults, pattern = /^[^\s"'\\]*$/): string {
  const v = host.vars[key] ?? DEFAULTS[key];
  if (typeof v !== 'string' || !pattern.test(v)) throw bad(inv, host, key, `a string matching ${pattern}`, v);
  return v;
}

function bool(inv: Inventory, host: Host, key: keyof Defaults): boolean {
  const v = host.vars[key] ?? DEFAULTS[key];
  if (typeof v !== 'boolean') throw bad(inv, host, key, 'true or false', v);
  return v;
}

function params(inv: Inventory, host: Host): Record<string, string | number | boolean> {
  const v = host.vars.postgres_parameters ?? {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(inv, host, 'postgres_parameters', 'a map', v);
  const out: Record<string, string | number | boolean> = { ...DEFAULTS.postgres_parameters };
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (!/^[a-z_][a-z0-9_.]*$/.test(k)) throw bad(inv, host, `postgres_parameters.${k}`, 'a parameter name', k);
    if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean') {
      throw bad(inv, host, `postgres_parameters.${k}`, 'a string, number or boolean', val);
    }
    out[k] = val;
  }
  // Stable order: the rendered config and the PATCH body must not change between runs.
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** A stable VRRP router id 1..255 from the cluster name (FNV-1a). */
export function routerIdFor(cluster: string): number {
  let h = 0x811c9dc5;
  for (const ch of cluster) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h % 255) + 1;
}

export interface Settings {
  etcdClientPort: number;
  etcdPeerPort: number;
  etcdDataDir: string;
  etcdHeartbeat: number;
  etcdElection: number;
  etcdToken: string;
  pgVersion: number;
  pgPort: number;
  pgDataDir: string;
  pgBinDir: string;
  scope: string;
  namespace: string;
  apiPort: number;
  apiUser: string;
  superuser: string;
  replicationUser: string;
  rewindUser: string;
  ttl: number;
  loopWait: number;
  retryTimeout: number;
  maxLagOnFailover: number;
  synchronousMode: boolean;
  synchronousModeStrict: boolean;
  pgParameters: Record<string, string | number | boolean>;
  replicaMaxLag: number;
  primaryPort: number;
  replicaPort: number;
  allPort: number;
  statsPort: number;
  haproxyMaxconn: number;
  serverMaxconn: number;
  checkInter: string;
  checkFall: number;
  checkRise: number;
  kaInterface: string;
  routerId: number;
  unicast: boolean;
}

/** Every setting for one host, validated (UserError naming the variable on a bad value). */
export function settingsFor(inv: Inventory, host: Host): Settings {
  const pgVersion = num(inv, host, 'postgres_version', 10, 99);
  const ttl = num(inv, host, 'patroni_ttl', 2, 3600);
  const loopWait = num(inv, host, 'patroni_loop_wait', 1, 3600);
  const retryTimeout = num(inv, host, 'patroni_retry_timeout', 1, 3600);
  if (loopWait + 2 * retryTimeout > ttl) {
    throw new UserError(
      `patroni_loop_wait + 2 * patroni_retry_timeout (${loopWait + 2 * retryTimeout}) must not exceed patroni_ttl (${ttl})`,
      'raise patroni_ttl or lower loop_wait / retry_timeout',
      { file: inv.file, field: 'vars.patroni_ttl' },
    );
  }
  const routerId = num(inv, host, 'keepalived_virtual_router_id', 0, 255);
  return {
    etcdClientPort: num(inv, host, 'etcd_client_port', 1, 65535),
    etcdPeerPort: num(inv, host, 'etcd_peer_port', 1, 65535),
    etcdDataDir: str(inv, host, 'etcd_data_dir', /^\/[A-Za-z0-9_./-]+$/),
    etcdHeartbeat: num(inv, host, 'etcd_heartbeat_interval', 10, 10000),
    etcdElection: num(inv, host, 'etcd_election_timeout', 50, 50000),
    etcdToken: str(inv, host, 'etcd_initial_cluster_token', /^[A-Za-z0-9_.-]*$/) || `pgha-${inv.cluster}`,
    pgVersion,
    pgPort: num(inv, host, 'postgres_port', 1, 65535),
    pgDataDir:
      str(inv, host, 'postgres_data_dir', /^(\/[A-Za-z0-9_./-]+)?$/) || `/var/lib/postgresql/${pgVersion}/patroni`,
    pgBinDir: `/usr/lib/postgresql/${pgVersion}/bin`,
    scope: str(inv, host, 'patroni_scope', /^[A-Za-z0-9_.-]*$/) || inv.cluster,
    namespace: str(inv, host, 'patroni_namespace', /^\/[A-Za-z0-9_./-]*$/),
    apiPort: num(inv, host, 'patroni_restapi_port', 1, 65535),
    apiUser: str(inv, host, 'patroni_api_user', /^[A-Za-z0-9_]+$/),
    superuser: str(inv, host, 'postgres_superuser', /^[a-z_][a-z0-9_]*$/),
    replicationUser: str(inv, host, 'postgres_replication_user', /^[a-z_][a-z0-9_]*$/),
    rewindUser: str(inv, host, 'postgres_rewind_user', /^[a-z_][a-z0-9_]*$/),
    ttl,
    loopWait,
    retryTimeout,
    maxLagOnFailover: num(inv, host, 'patroni_maximum_lag_on_failover'),
    synchronousMode: bool(inv, host, 'patroni_synchronous_mode'),
    synchronousModeStrict: bool(inv, host, 'patroni_synchronous_mode_strict'),
    pgParameters: params(inv, host),
    replicaMaxLag: num(inv, host, 'replica_max_lag_bytes', 0),
    primaryPort: num(inv, host, 'haproxy_primary_port', 1, 65535),
    replicaPort: num(inv, host, 'haproxy_replica_port', 1, 65535),
    allPort: num(inv, host, 'haproxy_all_port', 1, 65535),
    statsPort: num(inv, host, 'haproxy_stats_port', 1, 65535),
    haproxyMaxconn: num(inv, host, 'haproxy_maxconn', 1),
    serverMaxconn: num(inv, host, 'haproxy_server_maxconn', 1),
    checkInter: str(inv, host, 'haproxy_check_inter', /^[0-9]+(ms|s)?$/),
    checkFall: num(inv, host, 'haproxy_check_fall', 1, 100),
    checkRise: num(inv, host, 'haproxy_check_rise', 1, 100),
    kaInterface: str(inv, host, 'keepalived_interface', /^[A-Za-z0-9_.@-]*$/),
    routerId: routerId === 0 ? routerIdFor(inv.cluster) : routerId,
    unicast: bool(inv, host, 'keepalived_unicast'),
  };
}
