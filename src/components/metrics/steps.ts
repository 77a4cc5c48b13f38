// Prometheus metrics, each source switched on in the inventory: Debian's prometheus-node-exporter on every host,
// prometheus-postgres-exporter on the postgres hosts (as the role prometheus, created on the leader), all on the
// host's own address. HAProxy's exporter is a frontend of HAProxy's own config (haproxy component); etcd's and
// Patroni's /metrics are built in. The last step checks every endpoint of every host.
import type { Component, FileResource, Resource, Step, StepContext } from '../../engine/types.js';
import { defineStep } from '../../engine/step.js';
import { shq } from '../../engine/quote.js';
import { patroniSettings } from '../patroni/settings.js';
import { MONITOR_ROLE, metricsSettings } from './settings.js';
import { verifyEndpoints, endpointReads } from './checks.js';
import { monitorStep } from './monitor.js';

export const NODE_EXPORTER_DEFAULT = '/etc/default/prometheus-node-exporter';
export const POSTGRES_EXPORTER_DEFAULT = '/etc/default/prometheus-postgres-exporter';
export const SOCKET_DIR = '/var/run/postgresql';

/** node_exporter collectors kept: the host's vital signs, nothing that walks hardware or many files. */
export const NODE_COLLECTORS = [
  'cpu',
  'diskstats',
  'filesystem',
  'loadavg',
  'meminfo',
  'netdev',
  'pressure',
  'stat',
  'time',
  'uname',
  'vmstat',
];

// The config files are written before the package is installed: dpkg keeps an existing conffile (confold), so the
// service Debian's postinst starts listens on the host's address from its first second, never on every address.
export function nodeExporterDefault(ctx: StepContext): FileResource {
  const s = metricsSettings(ctx.inventory, ctx.host);
  return {
    kind: 'file',
    path: NODE_EXPORTER_DEFAULT,
    content: ctx.render('metrics/prometheus-node-exporter.default.hbs', {
      address: ctx.host.address,
      port: s.nodeExporterPort,
      collectors: NODE_COLLECTORS,
    }),
    notify: [{ service: 'prometheus-node-exporter', action: 'restart' }],
  };
}

export function postgresExporterDefault(ctx: StepContext): FileResource {
  const s = metricsSettings(ctx.inventory, ctx.host);
  return {
    kind: 'file',
    path: POSTGRES_EXPORTER_DEFAULT,
    content: ctx.render('metrics/prometheus-postgres-exporter.default.hbs', {
      address: ctx.host.address,
      port: s.postgresExporterPort,
      role: MONITOR_ROLE,
      socket_dir: SOCKET_DIR,
      pg_port: patroniSettings(ctx.inventory, ctx.host).pgPort,
    }),
    owner: 'root',
    group: 'root',
    mode: '0600',
    notify: [{ service: 'prometheus-postgres-exporter', action: 'restart' }],
  };
}

const nodeExporter: Step = {
  id: 'metrics.node_exporter',
  title: 'Prometheus node exporter (metrics_node_exporter)',
  resources(ctx) {
    if (!metricsSettings(ctx.inventory, ctx.host).nodeExporter) return [];
    return [
      nodeExporterDefault(ctx),
      { kind: 'packages', names: ['prometheus-node-exporter'] },
      { kind: 'service', name: 'prometheus-node-exporter', enabled: true, state: 'started' },
    ];
  },
};

/** psql as the postgres OS user over the local socket; what `args` puts on its command line holds no secret. */
function psql(port: number, args: string): string {
  return `runuser -u postgres -- psql -X -At -v ON_ERROR_STOP=1 -h ${SOCKET_DIR} -p ${port} -d postgres ${args}`;
}

/** The read-only test: the role exists, may log in, is no superuser and is a member of pg_monitor. */
export function monitorRoleTest(port: number): string {
  const sql =
    `select count(*) from pg_catalog.pg_roles r where r.rolname = '${MONITOR_ROLE}' and r.rolcanlogin ` +
    `and not r.rolsuper and pg_catalog.pg_has_role(r.oid, 'pg_monitor', 'member')`;
  return `[ "$(${psql(port, `-c ${shq(sql)}`)})" = 1 ]`;
}

/** This member is the primary: `f` from pg_is_in_recovery() (anything else, or no answer, is not). */
export const isPrimaryFact = (port: number) => ({
  script: `${psql(port, "-c 'select pg_is_in_recovery()'")} 2>/dev/null || true`,
  parse: (out: string) => out.trim() === 'f',
});

// On the primary only (replicas get the role by replication); the SQL travels on stdin, never on a command line.
const monitorRole = defineStep({
  id: 'metrics.postgres_role',
  needs: ['patroni'], // made on the leader
  title: `PostgreSQL role ${MONITOR_ROLE} for the postgres exporter, on the leader (metrics_postgres_exporter)`,
  facts: (ctx) => ({ primary: isPrimaryFact(patroniSettings(ctx.inventory, ctx.host).pgPort) }),
  resources(ctx, facts): Resource[] {
    if (!ctx.host.roles.includes('postgres') || !metricsSettings(ctx.inventory, ctx.host).postgresExporter) return [];
    if (facts.primary === false) return [];
    const port = patroniSettings(ctx.inventory, ctx.host).pgPort;
    return [
      {
        kind: 'command',
        label: `create role ${MONITOR_ROLE} (login, pg_monitor)`,
        script: psql(port, '-q -f -'),
        stdin: ctx.render('metrics/monitor-role.sql.hbs', { role: MONITOR_ROLE }),
        unless: monitorRoleTest(port),
      },
    ];
  },
});

/**
 * Debian's postinst makes the exporter's env file prometheus:prometheus 0640 on every configure (the package's
 * own choice for a file that may hold credentials): right after an install or upgrade it is made root's, 0600,
 * again (systemd reads it as root).
 */
export function keepEnvFilePrivate(path = POSTGRES_EXPORTER_DEFAULT): Resource {
  return {
    kind: 'command',
    label: `keep ${path} root:root 0600`,
    script: `chown root:root ${shq(path)} && chmod 0600 ${shq(path)}`,
    unless: `[ "$(stat -c %U:%G:%a ${shq(path)})" = root:root:600 ]`,
  };
}

const postgresExporter: Step = {
  id: 'metrics.postgres_exporter',
  needs: ['metrics.postgres_role'], // the exporter logs in with it, on every member
  title: 'Prometheus postgres exporter (metrics_postgres_exporter)',
  resources(ctx) {
    if (!ctx.host.roles.includes('postgres') || !metricsSettings(ctx.inventory, ctx.host).postgresExporter) return [];
    return [
      postgresExporterDefault(ctx),
      { kind: 'packages', names: ['prometheus-postgres-exporter'] },
      keepEnvFilePrivate(),
      { kind: 'service', name: 'prometheus-postgres-exporter', enabled: true, state: 'started' },
    ];
  },
};

const check: Step = {
  id: 'metrics.check',
  title: 'Check every metrics endpoint (node, postgres, haproxy, etcd, patroni, prometheus)',
  resources: () => [],
  verify: (ctx, t) => verifyEndpoints(ctx, t, 60_000),
  reads: endpointReads,
};

export const metricsSteps: Step[] = [nodeExporter, monitorRole, postgresExporter, monitorStep, check];

export const metrics: Component = { name: 'metrics', steps: metricsSteps };
