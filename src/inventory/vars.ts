// Inventory variables: the ones the cluster components read (typed and documented in the schema), and the merge rule.

const int = (description: string, minimum = 0, maximum?: number) => ({ type: 'integer', minimum, ...(maximum !== undefined ? { maximum } : {}), description });
const port = (description: string) => int(`${description} (1-65535).`, 1, 65535);
const text = (description: string, pattern: string) => ({ type: 'string', pattern, description });
const flag = (description: string) => ({ type: 'boolean', description });
const USER = '^[a-z_][a-z0-9_]*$';

/**
 * Variables the built-in components read (src/components/defaults.ts holds their defaults). Any other key is allowed
 * (free-form, for user templates and playbooks); these are type-checked here so a bad value names its line.
 */
export const KNOWN_VARS: Record<string, Record<string, unknown>> = {
  // etcd
  etcd_client_port: port('etcd client port, used by Patroni and etcdctl (default 2379)'),
  etcd_peer_port: port('etcd peer (raft) port (default 2380)'),
  etcd_data_dir: text('etcd data directory (default /var/lib/etcd/pgha, never the package\'s own /var/lib/etcd/default).', '^/[A-Za-z0-9_./-]+$'),
  etcd_heartbeat_interval: int('etcd raft heartbeat in ms (default 100).', 10, 10000),
  etcd_election_timeout: int('etcd election timeout in ms (default 1000).', 50, 50000),
  etcd_initial_cluster_token: text('etcd initial cluster token (default pgha-<cluster>), so another cluster never merges with this one.', '^[A-Za-z0-9_.-]*$'),
  // PostgreSQL + Patroni
  postgres_version: int('PostgreSQL major version (default 15, the Debian 12 one).', 10, 99),
  postgres_port: port('PostgreSQL port on each member (default 5432)'),
  postgres_data_dir: text('PostgreSQL data directory (default /var/lib/postgresql/<version>/patroni).', '^(/[A-Za-z0-9_./-]+)?$'),
  patroni_scope: text('Patroni scope, the cluster\'s key in etcd (default: the cluster name).', '^[A-Za-z0-9_.-]*$'),
  patroni_namespace: text('Patroni key prefix in etcd (default /service/).', '^/[A-Za-z0-9_./-]*$'),
  patroni_restapi_port: port('Patroni REST API port, also what HAProxy checks (default 8008)'),
  patroni_api_user: text('User for the Patroni REST API\'s unsafe methods (default patroni; password in secrets).', '^[A-Za-z0-9_]+$'),
  postgres_superuser: text('PostgreSQL superuser (default postgres).', USER),
  postgres_replication_user: text('PostgreSQL replication user (default replicator).', USER),
  postgres_rewind_user: text('PostgreSQL pg_rewind user (default rewind_user).', USER),
  patroni_ttl: int('Patroni leader lease in seconds (bootstrap.dcs.ttl; default 8). A hard-killed primary is replaced after at most this long. Rule: patroni_loop_wait + 2 * patroni_retry_timeout <= patroni_ttl. A change on a running cluster is applied with PATCH /config.', 2, 3600),
  patroni_loop_wait: int('Seconds between Patroni HA loop runs; the leader refreshes its lease this often (default 2).', 1, 3600),
  patroni_retry_timeout: int('Seconds Patroni retries etcd and PostgreSQL operations before demoting (default 3).', 1, 3600),
  patroni_maximum_lag_on_failover: int('Bytes a replica may lag and still be promoted (default 1048576).'),
  patroni_synchronous_mode: flag('Patroni synchronous replication: a commit waits for one synchronous replica (default false).'),
  patroni_synchronous_mode_strict: flag('With patroni_synchronous_mode: stop accepting writes when no synchronous replica is available (default false).'),
  postgres_parameters: {
    type: 'object',
    propertyNames: { pattern: '^[a-z_][a-z0-9_.]*$' },
    additionalProperties: { type: ['string', 'number', 'boolean'] },
    description: 'PostgreSQL settings (GUCs) for every member, merged over pgha\'s defaults, e.g. {max_connections: 200, shared_buffers: 256MB}. Maps merge key by key across cluster, group and host vars. Kept in the DCS: a change is applied with PATCH /config; settings that need a restart get a rolling restart (replicas first, the leader last).',
  },
  replica_max_lag_bytes: int('Largest replica lag in bytes the checks accept (default 16777216).'),
  // HAProxy
  haproxy_primary_port: port('HAProxy port routed to the primary (default 5001)'),
  haproxy_replica_port: port('HAProxy port routed to the replicas (default 5002)'),
  haproxy_all_port: port('HAProxy port balanced over every running member (default 5010)'),
  haproxy_stats_port: port('HAProxy stats page port (default 8404)'),
  haproxy_maxconn: int('HAProxy global maxconn (default 2000).', 1),
  haproxy_server_maxconn: int('maxconn per PostgreSQL server in HAProxy (default 200).', 1),
  haproxy_check_inter: text('Interval of HAProxy\'s health checks against Patroni, e.g. "1s" or "500ms" (default 1s).', '^[0-9]+(ms|s)?$'),
  haproxy_check_fall: int('Failed HAProxy checks before a server is marked DOWN (default 2).', 1, 100),
  haproxy_check_rise: int('Passed HAProxy checks before a server is marked UP again (default 1).', 1, 100),
  // keepalived
  keepalived_interface: text('Interface for VRRP and the VIP (default: the one carrying the host address, read from the host).', '^[A-Za-z0-9_.@-]*$'),
  keepalived_virtual_router_id: int('VRRP virtual router id 1-255, unique per network; 0 (default) derives it from the cluster name.', 0, 255),
  keepalived_unicast: flag('VRRP over unicast to the other haproxy hosts instead of multicast (default false).'),
};

/** The text of the `vars` description: what the components read, and the precedence. */
export const VARS_DESCRIPTION =
  'Variables (free-form map). Precedence, highest first: host vars, then the host\'s groups in the order listed on the host ' +
  '(a later group wins over an earlier one), then cluster vars. Maps (such as postgres_parameters) merge key by key; ' +
  'lists and scalars are replaced whole. The components read: ' +
  Object.keys(KNOWN_VARS).join(', ') +
  '. Any other key is passed to templates and playbooks unchanged.';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Merge b over a: plain maps merge key by key (recursively), anything else in b replaces a. Inputs are not changed. */
export function mergeVars(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] = isPlainObject(v) && isPlainObject(out[k]) ? mergeVars(out[k] as Record<string, unknown>, v) : structuredClone(v);
  }
  return out;
}

/** Host vars after precedence: cluster < each group (in the order given) < host. */
export function hostVars(cluster: Record<string, unknown>, groups: Record<string, unknown>[], host: Record<string, unknown>): Record<string, unknown> {
  return [...groups, host].reduce((acc, layer) => mergeVars(acc, layer), mergeVars({}, cluster));
}
