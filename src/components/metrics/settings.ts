// The metrics switches and ports: each Prometheus source is turned on by an inventory variable and listens on
// the host's own address. Read them with metricsSettings(inv, host).
import type { Host, Inventory } from '../../inventory/types.js';
import type { RoleDecl, VarRule } from '../../inventory/catalog.js';
import { haproxyVars } from '../haproxy/settings.js';
import { defineSettings } from '../settings.js';

export const METRICS_ROLES: RoleDecl[] = [
  { name: 'monitor', doc: "Debian's Prometheus, scraping every metrics endpoint of the cluster" },
];

const port = (name: string, def: number, what: string) =>
  ({
    name,
    type: 'int',
    default: def,
    min: 1,
    max: 65535,
    level: 'cluster',
    doc: `${what} (default ${def}) (1-65535).`,
  }) as const;

export const metricsVars = defineSettings(
  {
    nodeExporter: {
      name: 'metrics_node_exporter',
      type: 'bool',
      default: false,
      level: 'host',
      doc: "Run Debian's prometheus-node-exporter on the host, on its own address (default false).",
    },
    nodeExporterPort: port('metrics_node_exporter_port', 9100, 'Port of prometheus-node-exporter'),
    postgresExporter: {
      name: 'metrics_postgres_exporter',
      type: 'bool',
      default: false,
      level: 'host',
      doc: "Run Debian's prometheus-postgres-exporter on the postgres hosts, as the role prometheus over the local socket (default false).",
    },
    postgresExporterPort: port('metrics_postgres_exporter_port', 9187, 'Port of prometheus-postgres-exporter'),
    haproxy: {
      name: 'metrics_haproxy',
      type: 'bool',
      default: false,
      level: 'host',
      doc: "A frontend with HAProxy's built-in Prometheus exporter on the haproxy hosts (default false).",
    },
    haproxyPort: port('metrics_haproxy_port', 8405, "Port of HAProxy's Prometheus frontend (path /metrics)"),
    etcd: {
      name: 'metrics_etcd',
      type: 'bool',
      default: true,
      level: 'host',
      doc: "List and check etcd's own /metrics on its client URL (default true).",
    },
    patroni: {
      name: 'metrics_patroni',
      type: 'bool',
      default: true,
      level: 'host',
      doc: "List and check Patroni's REST API /metrics (default true).",
    },
    prometheusPort: port('metrics_prometheus_port', 9090, 'Port of Prometheus on the monitor hosts'),
    scrapeInterval: {
      name: 'metrics_scrape_interval',
      type: 'string',
      default: '15s',
      pattern: '^[1-9][0-9]*(ms|s|m)$',
      level: 'cluster',
      doc: 'How often Prometheus on the monitor hosts scrapes each endpoint, e.g. "30s" (default 15s).',
    },
  },
  [
    {
      uses: ['nodeExporterPort', 'postgresExporterPort', 'haproxyPort', 'prometheusPort'],
      check(s) {
        const ports = [
          ['metrics_node_exporter_port', s.nodeExporterPort],
          ['metrics_postgres_exporter_port', s.postgresExporterPort],
          ['metrics_haproxy_port', s.haproxyPort],
          ['metrics_prometheus_port', s.prometheusPort],
        ] as const;
        for (let i = 0; i < ports.length; i++)
          for (let j = i + 1; j < ports.length; j++)
            if (ports[i]![1] === ports[j]![1])
              return `${ports[i]![0]} and ${ports[j]![0]} are both ${ports[i]![1]}: each exporter needs a port of its own`;
        return undefined;
      },
    },
  ],
);

export type MetricsSettings = ReturnType<typeof metricsVars.read>;

export function metricsSettings(inv: Pick<Inventory, 'file'>, host: Host): MetricsSettings {
  return metricsVars.read(inv, host);
}

/** The PostgreSQL role the exporter logs in as: Debian's exporter runs as the OS user prometheus (peer auth). */
export const MONITOR_ROLE = 'prometheus';

/** HAProxy's Prometheus frontend needs a port none of HAProxy's other sections binds (checked at load). */
const HAPROXY_PORTS = haproxyVars.list.filter((d) => d.name.endsWith('_port')).map((d) => d.name);

export const haproxyPortRule: VarRule = {
  vars: ['metrics_haproxy_port', ...HAPROXY_PORTS],
  roles: ['haproxy'],
  check(vars) {
    const v = (name: string) => {
      const x = vars[name] ?? haproxyVars.defaults[name] ?? metricsVars.defaults[name];
      return typeof x === 'number' ? x : undefined;
    };
    if ((vars.metrics_haproxy ?? metricsVars.defaults.metrics_haproxy) !== true) return undefined;
    const port = v('metrics_haproxy_port');
    const taken = HAPROXY_PORTS.find((name) => v(name) === port);
    return taken ? `metrics_haproxy_port and ${taken} are both ${port}: HAProxy binds each port once` : undefined;
  },
};
