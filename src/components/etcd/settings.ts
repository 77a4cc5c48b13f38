// etcd's inventory variables (Debian etcd-server 3.4) and its role. Read them with etcdSettings(inv, host).
import type { Host, Inventory } from '../../inventory/types.js';
import type { RoleDecl } from '../../inventory/catalog.js';
import { defineSettings } from '../settings.js';

export const ETCD_ROLES: RoleDecl[] = [{ name: 'etcd', doc: 'DCS member' }];

export const etcdVars = defineSettings({
  etcdClientPort: {
    name: 'etcd_client_port',
    type: 'int',
    default: 2379,
    min: 1,
    max: 65535,
    level: 'cluster',
    doc: 'etcd client port, used by Patroni and etcdctl (default 2379) (1-65535).',
  },
  etcdPeerPort: {
    name: 'etcd_peer_port',
    type: 'int',
    default: 2380,
    min: 1,
    max: 65535,
    level: 'cluster',
    doc: 'etcd peer (raft) port (default 2380) (1-65535).',
  },
  etcdMetricsPort: {
    name: 'etcd_metrics_port',
    type: 'int',
    default: 2381,
    min: 1,
    max: 65535,
    level: 'cluster',
    doc: "etcd's plain-http /metrics and /health port on the host's address, with tls_enabled (the client port then requires a client certificate) (default 2381) (1-65535).",
  },
  // pgha's own data dir, not Debian's /var/lib/etcd/default: a member started by the package's postinst
  // (a one-node cluster) can never be mistaken for a member of this cluster.
  etcdDataDir: {
    name: 'etcd_data_dir',
    type: 'string',
    default: '/var/lib/etcd/pgha',
    pattern: '^/[A-Za-z0-9_./-]+$',
    level: 'host',
    doc: "etcd data directory (default /var/lib/etcd/pgha, never the package's own /var/lib/etcd/default).",
  },
  // Raft timing in ms (etcd's defaults; a LAN needs nothing else).
  etcdHeartbeat: {
    name: 'etcd_heartbeat_interval',
    type: 'int',
    default: 100,
    min: 10,
    max: 10000,
    level: 'cluster',
    doc: 'etcd raft heartbeat in ms (default 100).',
  },
  etcdElection: {
    name: 'etcd_election_timeout',
    type: 'int',
    default: 1000,
    min: 50,
    max: 50000,
    level: 'cluster',
    doc: 'etcd election timeout in ms (default 1000).',
  },
  etcdToken: {
    name: 'etcd_initial_cluster_token',
    type: 'string',
    default: '',
    pattern: '^[A-Za-z0-9_.-]*$',
    level: 'cluster',
    doc: 'etcd initial cluster token (default pgha-<cluster>), so another cluster never merges with this one.',
  },
});

/** etcd's settings for one host; an empty token means `pgha-<cluster>`. */
export function etcdSettings(inv: Pick<Inventory, 'file' | 'cluster'>, host: Host) {
  const s = etcdVars.read(inv, host);
  return { ...s, etcdToken: s.etcdToken || `pgha-${inv.cluster}` };
}
