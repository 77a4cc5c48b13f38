// HAProxy's inventory variables and its role (keepalived runs on the same hosts). Read them with
// haproxySettings(inv, host).
import type { Host, Inventory } from '../../inventory/types.js';
import type { RoleDecl } from '../../inventory/catalog.js';
import type { SecretSpec } from '../../engine/secrets.js';
import { defineSettings } from '../settings.js';

export const HAPROXY_ROLES: RoleDecl[] = [{ name: 'haproxy', doc: 'HAProxy and keepalived holding the VIP' }];

export const HAPROXY_SECRETS: SecretSpec[] = [
  {
    key: 'haproxy_stats_password',
    length: 32,
    description: 'HAProxy stats page (basic auth, user haproxy_stats_user)',
  },
];

export const haproxyVars = defineSettings({
  primaryPort: {
    name: 'haproxy_primary_port',
    type: 'int',
    default: 5001,
    min: 1,
    max: 65535,
    level: 'cluster',
    doc: 'HAProxy port routed to the primary (default 5001) (1-65535).',
  },
  replicaPort: {
    name: 'haproxy_replica_port',
    type: 'int',
    default: 5002,
    min: 1,
    max: 65535,
    level: 'cluster',
    doc: 'HAProxy port routed to the replicas (default 5002) (1-65535).',
  },
  allPort: {
    name: 'haproxy_all_port',
    type: 'int',
    default: 5010,
    min: 1,
    max: 65535,
    level: 'cluster',
    doc: 'HAProxy port balanced over every running member (default 5010) (1-65535).',
  },
  statsPort: {
    name: 'haproxy_stats_port',
    type: 'int',
    default: 8404,
    min: 1,
    max: 65535,
    level: 'cluster',
    doc: 'HAProxy stats page port (default 8404) (1-65535).',
  },
  statsUser: {
    name: 'haproxy_stats_user',
    type: 'string',
    default: 'admin',
    pattern: '^[A-Za-z0-9_.-]+$',
    level: 'cluster',
    doc: 'User of the stats page (default admin; password haproxy_stats_password in the secrets file). The host itself (127.0.0.1) reads it without one.',
  },
  statsAddress: {
    name: 'haproxy_stats_address',
    type: 'string',
    default: '',
    pattern: '^(([0-9]{1,3}\\.){3}[0-9]{1,3})?$',
    level: 'host',
    doc: 'Admin address the stats page listens on, besides 127.0.0.1 (default: every address, the VIP included). Always behind the password.',
  },
  haproxyMaxconn: {
    name: 'haproxy_maxconn',
    type: 'int',
    default: 2000,
    min: 1,
    level: 'host',
    doc: 'HAProxy global maxconn (default 2000).',
  },
  serverMaxconn: {
    name: 'haproxy_server_maxconn',
    type: 'int',
    default: 200,
    min: 1,
    level: 'host',
    doc: 'maxconn per PostgreSQL server in HAProxy (default 200).',
  },
  // Health checks against Patroni: every 500 ms, 2 failures mark a server down, 1 success marks it up. A new
  // primary is in the 5001 pool at most about 0.5 s after Patroni promotes it; a lost one is out after ~1 s
  // (and its sessions are shut). Slower values lengthen a switchover or failover by (rise x inter).
  checkInter: {
    name: 'haproxy_check_inter',
    type: 'string',
    default: '500ms',
    pattern: '^[0-9]+(ms|s)?$',
    level: 'cluster',
    doc: 'Interval of HAProxy\'s health checks against Patroni, e.g. "1s" or "500ms" (default 500ms).',
  },
  checkFall: {
    name: 'haproxy_check_fall',
    type: 'int',
    default: 2,
    min: 1,
    max: 100,
    level: 'cluster',
    doc: 'Failed HAProxy checks before a server is marked DOWN (default 2).',
  },
  checkRise: {
    name: 'haproxy_check_rise',
    type: 'int',
    default: 1,
    min: 1,
    max: 100,
    level: 'cluster',
    doc: 'Passed HAProxy checks before a server is marked UP again (default 1).',
  },
});

export function haproxySettings(inv: Pick<Inventory, 'file'>, host: Host) {
  return haproxyVars.read(inv, host);
}
