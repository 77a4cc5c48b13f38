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
