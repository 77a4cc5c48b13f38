// Inventory variables: the ones the cluster components read (typed and documented in the schema), and the merge rule.

const int = (description: string, minimum = 0, maximum?: number) => ({ type: 'integer', minimum, ...(maximum ? { maximum } : {}), description });

/**
 * Variables the built-in components read. Any other key is allowed (free-form, for user templates and playbooks);
 * these are type-checked. Every component has its own default when a variable is not set.
 */
export const KNOWN_VARS: Record<string, Record<string, unknown>> = {
  patroni_ttl: int('Patroni leader lease in seconds (bootstrap.dcs.ttl). A hard-killed primary is replaced after at most this long. Keep patroni_loop_wait + 2 * patroni_retry_timeout <= patroni_ttl. A change on a running cluster is applied with PATCH /config.', 5),
  patroni_loop_wait: int('Seconds between Patroni HA loop runs (bootstrap.dcs.loop_wait); the leader refreshes its lease this often.', 1),
  patroni_retry_timeout: int('Seconds Patroni retries DCS and PostgreSQL operations before demoting (bootstrap.dcs.retry_timeout).', 1),
  patroni_maximum_lag_on_failover: int('Bytes a replica may lag and still be promoted (bootstrap.dcs.maximum_lag_on_failover).'),
  synchronous_mode: { type: 'boolean', description: 'Patroni synchronous replication: a commit waits for one synchronous replica (bootstrap.dcs.synchronous_mode).' },
  synchronous_mode_strict: { type: 'boolean', description: 'With synchronous_mode: stop accepting writes when no synchronous replica is available.' },
  postgresql_parameters: {
    type: 'object',
    additionalProperties: { type: ['string', 'number', 'boolean'] },
    description: 'PostgreSQL settings (GUCs) for every member, e.g. {max_connections: 200, shared_buffers: 256MB}. Maps merge key by key across cluster, group and host vars. Settings Patroni keeps in the DCS (max_connections, wal_level, ...) are applied with PATCH /config.',
  },
  pg_hba: { type: 'array', items: { type: 'string' }, description: 'Extra pg_hba.conf lines added before the generated ones, e.g. "host all app 10.1.0.0/16 scram-sha-256".' },
  haproxy_check_inter_ms: int('Milliseconds between HAProxy health checks of each Patroni member (default fast enough for a failover in about 10 s).', 100),
  haproxy_check_fall: int('Failed HAProxy checks before a server is marked DOWN.', 1),
  haproxy_check_rise: int('Passed HAProxy checks before a server is marked UP again.', 1),
  keepalived_virtual_router_id: int('VRRP virtual router id (1-255); unique per broadcast domain. Default derived from the cluster name.', 1, 255),
  keepalived_interface: { type: 'string', description: 'Network interface that carries the VIP. Default: the interface holding the host address (detected).' },
  keepalived_priority: int('VRRP priority of this host (set it in host vars). Default: the first haproxy host highest.', 1, 254),
};

/** The text of the `vars` description: what the components read, and the precedence. */
export const VARS_DESCRIPTION =
  'Variables (free-form map). Precedence, highest first: host vars, then the host\'s groups in the order listed on the host ' +
  '(a later group wins over an earlier one), then cluster vars. Maps (such as postgresql_parameters) merge key by key; ' +
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
