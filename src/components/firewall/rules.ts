// What each host's firewall lets in: per role, the ports that role serves (read from the components' settings)
// and the addresses that need them. Pure: the inventory in, the rules and the nftables text out.
import type { Host, Inventory } from '../../inventory/types.js';
import { withRole } from '../common.js';
import { etcdSettings } from '../etcd/settings.js';
import { etcdTls } from '../etcd/tls.js';
import { patroniSettings } from '../patroni/settings.js';
import { haproxySettings } from '../haproxy/settings.js';
import { pgbouncerSettings } from '../pgbouncer/settings.js';
import { metricsSettings } from '../metrics/settings.js';
import { backupSettings, BACKUP_ROLE } from '../backup/settings.js';
import { firewallSettings, parseCidr, type Cidr } from './settings.js';
import { intToIpv4 } from '../../inventory/net.js';

/** The pgha-owned nftables table: the only one pgha writes, replaced as a whole. */
export const FIREWALL_TABLE = 'inet pgha';

/** One accept rule: TCP ports (or VRRP) from these sources. */
export interface FirewallRule {
  /** What the rule is for (also the nftables rule comment). */
  what: string;
  /** Source addresses or networks (CIDR texts; a bare address is a /32). */
  from: string[];
  /** TCP ports ("9000-9010" for a range); absent with `protocol`. */
  tcp?: (number | string)[];
  protocol?: 'vrrp';
}

type Inv = Pick<Inventory, 'file' | 'cluster' | 'subnet' | 'provider' | 'hosts'>;

const addresses = (inv: Inv, role: string): string[] => withRole(inv.hosts, role).map((h) => h.address);

/**
 * Sources without duplicates or entries covered by a wider one (nftables refuses overlapping elements of an
 * interval set), sorted by address.
 */
export function normalizeSources(list: readonly string[]): string[] {
  const parsed = [...new Set(list)].map((t) => ({ t, c: parseCidr(t) })).filter((x) => typeof x.c !== 'string');
  const cidrs = parsed.map((x) => x.c as Cidr);
  const covers = (a: Cidr, b: Cidr) => {
    const mask = a.prefix === 0 ? 0 : (0xffffffff << (32 - a.prefix)) >>> 0;
    return a.prefix <= b.prefix && (b.network & mask) >>> 0 === a.network;
  };
  const kept = cidrs.filter((b, i) => !cidrs.some((a, j) => j !== i && covers(a, b) && (a.prefix < b.prefix || j < i)));
  return kept
    .sort((a, b) => a.network - b.network || a.prefix - b.prefix)
    .map((c) => (c.prefix === 32 ? intToIpv4(c.network) : `${intToIpv4(c.network)}/${c.prefix}`));
}

/** The accept rules of one host, by its roles; `sshPorts`: the ports its sshd serves pgha on. */
export function firewallRules(inv: Inv, host: Host, sshPorts: readonly number[]): FirewallRule[] {
  const fw = firewallSettings(inv, host);
  const roles = new Set(host.roles);
  const etcd = addresses(inv, 'etcd');
  const pg = addresses(inv, 'postgres');
  const lb = addresses(inv, 'haproxy');
  const mon = addresses(inv, 'monitor');
  const backup = addresses(inv, BACKUP_ROLE);
  const m = metricsSettings(inv, host);
  const rules: FirewallRule[] = [
    { what: 'ssh', from: fw.adminCidrs, tcp: [...new Set(sshPorts)].sort((a, b) => a - b) },
  ];
  if (m.nodeExporter)
    rules.push({ what: 'node exporter', from: [...mon, ...fw.adminCidrs], tcp: [m.nodeExporterPort] });
  if (roles.has('etcd')) {
    const s = etcdSettings(inv, host);
    // Patroni on every member talks to etcd. The monitor scrapes etcd's /metrics: on the client URL without TLS, on
    // the plain metrics port (/metrics and /health only) with TLS, where the client port wants a certificate.
    const tls = etcdTls(inv, host);
    rules.push({
      what: 'etcd clients',
      from: [...etcd, ...pg, ...(m.etcd && !tls ? mon : [])],
      tcp: [s.etcdClientPort],
    });
    rules.push({ what: 'etcd peers', from: etcd, tcp: [s.etcdPeerPort] });
    if (m.etcd && tls) rules.push({ what: 'etcd metrics', from: mon, tcp: [s.etcdMetricsPort] });
  }
  if (roles.has('postgres')) {
    const s = patroniSettings(inv, host);
    const b = pgbouncerSettings(inv, host);
    // Replication and pg_rewind between members; the balancers' servers.
    rules.push({ what: 'postgresql', from: [...pg, ...lb], tcp: [s.pgPort] });
    // Members check each other before a failover; the balancers' health checks; /metrics for the monitor.
    rules.push({
      what: 'patroni rest api',
      from: [...pg, ...lb, ...(m.patroni ? mon : []), ...fw.adminCidrs],
      tcp: [s.apiPort],
    });
    if (b.enabled) rules.push({ what: 'pgbouncer', from: lb, tcp: [b.port] });
    if (backup.length) rules.push({ what: 'pgbackrest tls server', from: backup, tcp: [backupSettings(inv).tlsPort] });
    if (m.postgresExporter)
      rules.push({ what: 'postgres exporter', from: [...mon, ...fw.adminCidrs], tcp: [m.postgresExporterPort] });
  }
  if (roles.has('haproxy')) {
    const s = haproxySettings(inv, host);
    const b = pgbouncerSettings(inv, host);
    const ports = [s.primaryPort, s.replicaPort, s.allPort];
    if (b.enabled) ports.push(b.pooledPrimaryPort, b.pooledReplicaPort, b.pooledAllPort);
    // The members too: pgha's verify runs psql on a member through the VIP.
    rules.push({ what: 'haproxy clients', from: [...fw.clientCidrs, ...pg], tcp: ports });
    rules.push({ what: 'haproxy stats', from: fw.adminCidrs, tcp: [s.statsPort] });
    if (m.haproxy) rules.push({ what: 'haproxy exporter', from: [...mon, ...fw.adminCidrs], tcp: [m.haproxyPort] });
    // keepalived's adverts (multicast or unicast, IP protocol 112) from the other balancers.
    const peers = lb.filter((a) => a !== host.address);
    if (peers.length) rules.push({ what: 'vrrp', from: peers, protocol: 'vrrp' });
  }
  if (roles.has(BACKUP_ROLE))
    rules.push({ what: 'pgbackrest tls server', from: pg, tcp: [backupSettings(inv).tlsPort] });
  if (roles.has('monitor')) rules.push({ what: 'prometheus', from: fw.adminCidrs, tcp: [m.prometheusPort] });
  if (fw.openTcpPorts.length) rules.push({ what: 'open ports', from: fw.clientCidrs, tcp: fw.openTcpPorts });
  return rules
    .map((r) => ({ ...r, from: normalizeSources(r.from.filter((a) => a !== host.address)) }))
    .filter((r) => r.from.length > 0);
}

const set = (xs: readonly (string | number)[]) => (xs.length === 1 ? String(xs[0]) : `{ ${xs.join(', ')} }`);

/** One rule as an nftables statement. */
export function nftRule(r: FirewallRule): string {
  const match = r.protocol ? `ip protocol ${r.protocol}` : `tcp dport ${set(r.tcp ?? [])}`;
  return `ip saddr ${set(r.from)} ${match} accept comment "${r.what}"`;
}
