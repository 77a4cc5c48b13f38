// HAProxy on role haproxy: 5001 primary, 5002 replicas, 5010 all members, stats on 8404; health from
// Patroni's REST API. Config changes are validated first and applied with a reload (never a restart).
import type { Component, FileResource, Step, StepContext } from '../../engine/types.js';
import { haproxySettings } from './settings.js';
import { patroniSettings } from '../patroni/settings.js';
import { withRole } from '../common.js';
import { secret } from '../secrets.js';
import { verifyHaproxy, verifyLocalHaproxy, haproxyReads, statsScript } from './checks.js';
import { pooledHaproxyVars } from '../pgbouncer/haproxy.js';
import { metricsSettings } from '../metrics/settings.js';
import { readFileSync } from 'node:fs';
import { tlsEnabled } from '../tls/settings.js';
import { ensureCa } from '../tls/ca.js';

export const HAPROXY_CONFIG = '/etc/haproxy/haproxy.cfg';
export const HAPROXY_STATE_FILE = '/var/lib/haproxy/server-state';
export const HAPROXY_STATE_SCRIPT = '/usr/local/lib/pgha/haproxy-server-state';
/**
 * -dW: warnings fail the validation too (plain -c exits 0 on them). The copy checked reads its server state from
 * a file with no servers in it: HAProxy loads the state file even with -c, and warns about every server it finds
 * DOWN in it, about a missing or empty file, and about a missing server-state-file line.
 */
export const HAPROXY_VALIDATE =
  "printf '1\\n' > %s.state && sed 's#^\\( *server-state-file \\).*#\\1'%s.state'#' %s > %s.check && " +
  'haproxy -dW -c -f %s.check; rc=$?; rm -f %s.check %s.state; [ $rc = 0 ]';
export const HAPROXY_STATE_DROPIN = '/etc/systemd/system/haproxy.service.d/pgha-server-state.conf';

/**
 * The script haproxy.service runs before every start and reload, and the drop-in that runs it: a reload keeps
 * each server's health (HAProxy would otherwise put every server UP until its first check fails, sending writes on
 * the primary port to replicas for up to one check interval) and a server not checked yet starts DOWN.
 */
export function haproxyStateFiles(ctx: StepContext): FileResource[] {
  return [
    { kind: 'file', path: HAPROXY_STATE_SCRIPT, content: ctx.render('haproxy/server-state.sh.hbs', {}), mode: '0755' },
    {
      kind: 'file',
      path: HAPROXY_STATE_DROPIN,
      content: ctx.render('haproxy/server-state.conf.hbs', { script: HAPROXY_STATE_SCRIPT }),
    },
  ];
}
/** The cluster's CA certificate on a balancer: what its health checks verify Patroni's certificates with. */
export const HAPROXY_CA = '/etc/haproxy/pgha-ca.crt';

/** The CA file on a balancer with TLS (a new CA is taken up with a reload), none without. */
export function haproxyCaFile(ctx: StepContext): FileResource[] {
  if (!tlsEnabled(ctx.inventory, ctx.host)) return [];
  const ca = ensureCa(ctx.inventory, !ctx.check);
  return [
    {
      kind: 'file',
      path: HAPROXY_CA,
      content: ca ? readFileSync(ca.cert, 'utf8') : '(the CA certificate pgha would make)\n',
      mode: '0644',
      notify: [{ service: 'haproxy', action: 'reload' }],
    },
  ];
}

/**
 * How a balancer checks each member while TLS is switched on or off one member at a time (patroni/tls-switch.ts):
 * the scheme each member's REST API answers now, and the members whose checks may fail for a while (their API is
 * about to switch) without being marked down. Without it, every member as the inventory says.
 */
export interface CheckOverride {
  https: (member: string) => boolean;
  tolerant: Set<string>;
}

/** Consecutive failed checks a member about to switch its REST API may have before HAProxy marks it down. */
export const TOLERANT_FALL = 30;

/** A word of haproxy.cfg in double quotes: `\\`, `"` and `$` (environment variables) escaped. */
export function haproxyQuote(v: string): string {
  return `"${v.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

export function haproxyConfigFile(ctx: StepContext, o?: CheckOverride): FileResource {
  const s = { ...patroniSettings(ctx.inventory, ctx.host), ...haproxySettings(ctx.inventory, ctx.host) };
  const tls = tlsEnabled(ctx.inventory, ctx.host);
  // With TLS, the checks speak HTTPS to Patroni and verify its certificate against the cluster's CA.
  const servers = withRole(ctx.hosts, 'postgres').map((h) => ({
    name: h.name,
    address: h.address,
    check:
      ((o ? o.https(h.name) : tls) ? ` check-ssl verify required ca-file ${HAPROXY_CA}` : '') +
      (o?.tolerant.has(h.name) ? ` fall ${TOLERANT_FALL}` : ''),
  }));
  const m = metricsSettings(ctx.inventory, ctx.host);
  const content = ctx.render('haproxy/haproxy.cfg.hbs', {
    maxconn: s.haproxyMaxconn,
    state_file: HAPROXY_STATE_FILE,
    state_script: HAPROXY_STATE_SCRIPT,
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
    tls,
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
    validate: HAPROXY_VALIDATE,
    notify: [{ service: 'haproxy', action: 'reload' }],
  };
}

const install: Step = {
  id: 'haproxy.install',
  title: 'Install HAProxy',
  // socat: the server-state script reads the running process's state from its admin socket.
  resources: () => [{ kind: 'packages', names: ['haproxy', 'socat'] }],
};

// Rolling: a changed config (a member added or removed) is reloaded on one balancer at a time, and that balancer
// answers again before the next one reloads, so the VIP always has a balancer that serves.
const config: Step = {
  id: 'haproxy.config',
  title: 'Configure HAProxy (primary, replicas, all, stats; one balancer at a time)',
  serial: true,
  // The members' addresses come from the inventory: no running Patroni needed. A running member's switch to TLS
  // rewrites the balancers' checks itself, so that switch comes first.
  needs: ['patroni.tls'],
  resources: (ctx) => [
    ...haproxyStateFiles(ctx),
    ...haproxyCaFile(ctx),
    haproxyConfigFile(ctx),
    { kind: 'service', name: 'haproxy', enabled: true, state: 'started' },
  ],
  verify: (ctx, t) => verifyLocalHaproxy(ctx, t, 30_000),
  reads: (ctx) => [statsScript(ctx, ctx.host)],
};

/** Each balancer shows the running members UP: once Patroni (and PgBouncer, for the pooled ports) runs. */
export const backendsStep: Step = {
  id: 'haproxy.backends',
  title: 'Check that each balancer shows the running members UP (primary, replicas, all)',
  needs: ['patroni', 'pgbouncer'],
  resources: () => [],
  verifyGroup: (ctx) => verifyHaproxy(ctx, 30_000),
  groupReads: haproxyReads,
};

export const haproxySteps: Step[] = [install, config, backendsStep];

export const haproxy: Component = { name: 'haproxy', steps: haproxySteps };
