// What pooling adds to HAProxy: the pooled listen sections' template values, and their expected UP servers (the
// same members as the direct sections: health still comes from Patroni's REST API, only the server port differs).
import type { StepContext } from '../../engine/types.js';
import type { Host, Inventory } from '../../inventory/types.js';
import { pgbouncerSettings } from './settings.js';

export const POOLED_PROXIES = { primary: 'pooled_primary', replicas: 'pooled_replicas', all: 'pooled_all' } as const;

/** Template values of haproxy.cfg's pooling block (`pooling: false` leaves the block out). */
export function pooledHaproxyVars(ctx: Pick<StepContext, 'inventory' | 'host'>): Record<string, unknown> {
  const s = pgbouncerSettings(ctx.inventory, ctx.host);
  return {
    pooling: s.enabled,
    pooled_primary_port: s.pooledPrimaryPort,
    pooled_replica_port: s.pooledReplicaPort,
    pooled_all_port: s.pooledAllPort,
    pgbouncer_port: s.port,
    pooled_maxconn: s.maxClientConn,
  };
}

/** The expected backends with the pooled sections added when pooling is on (they mirror primary, replicas, all). */
export function withPooledBackends(
  inv: Pick<Inventory, 'file'>,
  h: Host,
  want: Record<string, string[]>,
): Record<string, string[]> {
  if (!pgbouncerSettings(inv, h).enabled) return want;
  return {
    ...want,
    [POOLED_PROXIES.primary]: want.primary ?? [],
    [POOLED_PROXIES.replicas]: want.replicas ?? [],
    [POOLED_PROXIES.all]: want.all ?? [],
  };
}

/** The lines `pgha up` adds to its "Connect:" hint when pooling is on (none when off). */
export function pooledConnectLines(inv: Inventory): string[] {
  const member = inv.hosts.find((h) => h.roles.includes('postgres'));
  if (!member || !inv.vip) return [];
  const s = pgbouncerSettings(inv, member);
  if (!s.enabled) return [];
  return [
    `  pooled rw    psql -h ${inv.vip} -p ${s.pooledPrimaryPort} -U APP_ROLE -d APP_DB   (PgBouncer, transaction pooling; not for superusers)`,
    `  pooled ro    psql -h ${inv.vip} -p ${s.pooledReplicaPort} -U APP_ROLE -d APP_DB`,
    `  pooled any   psql -h ${inv.vip} -p ${s.pooledAllPort} -U APP_ROLE -d APP_DB`,
  ];
}
