// HAProxy on role haproxy: 5001 primary, 5002 replicas, 5010 all members, stats on 8404; health from
// Patroni's REST API. Config changes are validated first and applied with a reload (never a restart).
import type { Component, FileResource, Step, StepContext } from '../../engine/types.js';
import { haproxySettings } from './settings.js';
import { patroniSettings } from '../patroni/settings.js';
import { withRole } from '../common.js';
import { secret } from '../secrets.js';
import { verifyHaproxy, verifyLocalHaproxy } from './checks.js';
import { pooledHaproxyVars } from '../pgbouncer/haproxy.js';
import { metricsSettings } from '../metrics/settings.js';

export const HAPROXY_CONFIG = '/etc/haproxy/haproxy.cfg';

/** A word of haproxy.cfg in double quotes: `\\`, `"` and `$` (environment variables) escaped. */
export function haproxyQuote(v: string): string {
  return `"${v.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

export function haproxyConfigFile(ctx: StepContext): FileResource {
  const s = { ...patroniSettings(ctx.inventory, ctx.host), ...haproxySettings(ctx.inventory, ctx.host) };
  const servers = withRole(ctx.hosts, 'postgres').map((h) => ({ name: h.name, address: h.address }));
  const m = metricsSettings(ctx.inventory, ctx.host);
  const content = ctx.render('haproxy/haproxy.cfg.hbs', {
    maxconn: s.haproxyMaxconn,
    stats_port: s.statsPort,
    stats_address: s.statsAddress,
    stats_user: s.statsUser,
    stats_password: haproxyQuote(secret(ctx, 'haproxy_stats_password')),
    primary_port: s.primaryPort,
    replica_port: s.replicaPort,
    all_port: s.allPort,
    api_port: s.apiPort,
    pg_port: s.pgPort,
    server_maxconn: s.serverMaxconn,
    inter: s.checkInter,
    fall: s.checkFall,
    rise: s.checkRise,
    replica_max_lag: s.replicaMaxLag,
    servers,
    // Connection pooling (PgBouncer): its own block of the template.
    ...pooledHaproxyVars(ctx),
    // HAProxy's built-in Prometheus exporter (metrics_haproxy), on the host's own address.
    prometheus: m.haproxy ? { address: ctx.host.address, port: m.haproxyPort } : false,
  });
  return {
    kind: 'file',
    path: HAPROXY_CONFIG,
    content,
    // The stats password is in it.
    owner: 'root',
    group: 'root',
    mode: '0600',
    secret: true,
    // -dW: warnings fail the validation too (plain -c exits 0 on them).
    validate: 'haproxy -dW -c -f %s',
    notify: [{ service: 'haproxy', action: 'reload' }],
  };
}

const install: Step = {
  id: 'haproxy.install',
  title: 'Install HAProxy',
  resources: () => [{ kind: 'packages', names: ['haproxy'] }],
};

// Rolling: a changed config (a member added or removed) is reloaded on one balancer at a time, and that balancer
// answers again before the next one reloads, so the VIP always has a balancer that serves.
const config: Step = {
  id: 'haproxy.config',
  title: 'Configure HAProxy (primary, replicas, all, stats; one balancer at a time)',
  serial: true,
  resources: (ctx) => [haproxyConfigFile(ctx), { kind: 'service', name: 'haproxy', enabled: true, state: 'started' }],
  verify: (ctx, t) => verifyLocalHaproxy(ctx, t, 30_000),
  verifyGroup: (ctx) => verifyHaproxy(ctx, 30_000),
};

export const haproxySteps: Step[] = [install, config];

export const haproxy: Component = { name: 'haproxy', steps: haproxySteps };
