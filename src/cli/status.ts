// `pgha status`: Patroni members (like `patronictl list`), the HAProxy backends each member is UP in, the VIP
// holder and etcd health, read-only, in one table.
import type { StepGroupContext } from '../engine/types.js';
import { localClient } from '../components/etcd/tls.js';
import { haproxySettings } from '../components/haproxy/settings.js';
import { errText, withRole } from '../components/common.js';
import { fetchCluster } from '../components/patroni/checks.js';
import type { PatroniMember } from '../components/patroni/facts.js';
import { backendsOn, PROXIES } from '../components/haproxy/checks.js';
import { vipState } from '../components/keepalived/checks.js';
import { certsOn, type CertExpiry } from '../components/tls/expiry.js';
import { tlsPaths } from '../components/tls/files.js';
import { RENEW_DAYS } from '../components/tls/ca.js';
import { PATRONI_TLS_DIR } from '../components/patroni/api.js';
import { PGBACKREST_TLS_DIR } from '../components/backup/settings.js';
import { etcdctl, parseEndpointHealth, parseEndpointStatus, parseMemberList } from '../components/etcd/facts.js';

export interface MemberStatus {
  name: string;
  host: string;
  role: string;
  state: string;
  timeline?: number;
  lag?: number | 'unknown';
  pendingRestart: boolean;
}

export interface BalancerStatus {
  host: string;
  backends: Record<string, string[]>; // proxy -> UP servers
  error?: string;
}

export interface EtcdStatus {
  members: { name: string; endpoint: string; healthy: boolean; error?: string }[];
  leader?: string;
  error?: string;
}

export interface ClusterStatus {
  cluster: string;
  vip?: string;
  vipHolders: string[];
  members: MemberStatus[];
  patroniSource?: string;
  patroniError?: string;
  paused: boolean;
  balancers: BalancerStatus[];
  ports: { primary: number; replicas: number; all: number };
  etcd: EtcdStatus;
  /** The certificates each host's services use, with the days they remain valid (none without TLS). */
  certificates: HostCerts[];
}

export interface HostCerts {
  host: string;
  certificates: CertExpiry[];
  error?: string;
}

/** Where the hosts keep their certificates (Patroni and PostgreSQL, pgBackRest). */
export const CERT_PATHS = [tlsPaths(PATRONI_TLS_DIR).cert, tlsPaths(PGBACKREST_TLS_DIR).cert];

async function certificates(ctx: StepGroupContext): Promise<HostCerts[]> {
  return Promise.all(
    ctx.inventory.hosts
      .filter((h) => ctx.transports.has(h.name))
      .map(async (h) => {
        try {
          return { host: h.name, certificates: await certsOn(ctx.transports.get(h.name)!, CERT_PATHS) };
        } catch (e) {
          return { host: h.name, certificates: [], error: errText(e) };
        }
      }),
  ).then((all) => all.filter((c) => c.certificates.length > 0 || c.error));
}

/** "pg1 824 d, pg2 824 d": the soonest expiry on each host. */
export function certText(certs: HostCerts[]): string {
  return certs
    .map((c) => {
      if (c.error) return `${c.host} ?`;
      const soonest = Math.min(...c.certificates.map((x) => x.daysLeft));
      return `${c.host} ${soonest} d${soonest < RENEW_DAYS ? ' (renewed by pgha up)' : ''}`;
    })
    .join(', ');
}

async function etcdStatus(ctx: StepGroupContext): Promise<EtcdStatus> {
  for (const h of withRole(ctx.inventory.hosts, 'etcd')) {
    const t = ctx.transports.get(h.name);
    if (!t) continue;
    const ep = localClient(ctx.inventory, h);
    const r = await t.exec(
      `${etcdctl(ep, ['member', 'list', '-w', 'json'])} 2>/dev/null; echo ---pgha-split---; ` +
        `${etcdctl(ep, ['endpoint', 'health', '--cluster', '-w', 'json'])} 2>/dev/null; echo ---pgha-split---; ` +
        `${etcdctl(ep, ['endpoint', 'status', '-w', 'json'])} 2>/dev/null; true`,
      { timeoutMs: 30_000 },
    );
    const [ml = '', he = '', st = ''] = r.stdout.split('---pgha-split---');
    const list = parseMemberList(ml);
    if (!list) continue;
    const health = parseEndpointHealth(he);
    const leaderHex = parseEndpointStatus(st)[0]?.leader;
    return {
      leader: list.members.find((m) => m.id === leaderHex)?.name,
      members: list.members.map((m) => {
        const ep0 = m.clientURLs[0] ?? '';
        const hh = health.find((x) => m.clientURLs.includes(x.endpoint));
        return {
          name: m.name || '(unstarted)',
          endpoint: ep0,
          healthy: hh?.health === true,
          error: hh && !hh.health ? hh.error : undefined,
        };
      }),
    };
  }
  return { members: [], error: 'no etcd member answers' };
}

/** The members of a GET /cluster answer, as the tables show them. */
export function membersOf(got: { cluster: { members: PatroniMember[] } } | undefined): MemberStatus[] {
  return (got?.cluster.members ?? []).map((m) => ({
    name: m.name,
    host: m.host,
    role: m.role,
    state: m.state,
    timeline: m.timeline,
    lag: m.lag,
    pendingRestart: m.pendingRestart,
  }));
}

/** Read-only: collects everything `pgha status` shows. */
export async function collectStatus(ctx: StepGroupContext): Promise<ClusterStatus> {
  const inv = ctx.inventory;
  const first = withRole(inv.hosts, 'postgres')[0] ?? inv.hosts[0];
  const s = first ? haproxySettings(inv, first) : undefined;
  const got = await fetchCluster(ctx).catch(() => undefined);
  const members = membersOf(got);
  const balancers: BalancerStatus[] = [];
  for (const h of withRole(inv.hosts, 'haproxy')) {
    const t = ctx.transports.get(h.name);
    if (!t) {
      balancers.push({ host: h.name, backends: {}, error: 'not connected' });
      continue;
    }
    try {
      balancers.push({ host: h.name, backends: await backendsOn(ctx, h, t) });
    } catch (e) {
      balancers.push({ host: h.name, backends: {}, error: errText(e) });
    }
  }
  let vipHolders: string[] = [];
  if (inv.vip && withRole(inv.hosts, 'haproxy').length) {
    vipHolders = await vipState(ctx).then(
      (v) => v.holders,
      () => [],
    );
  }
  return {
    cluster: inv.cluster,
    vip: inv.vip,
    vipHolders,
    members,
    patroniSource: got?.from,
    patroniError: got ? undefined : 'no Patroni member answers GET /cluster',
    paused: got?.cluster.pause ?? false,
    balancers,
    ports: { primary: s?.primaryPort ?? 5001, replicas: s?.replicaPort ?? 5002, all: s?.allPort ?? 5010 },
    etcd: await etcdStatus(ctx).catch((e) => ({ members: [], error: errText(e) })),
    certificates: await certificates(ctx),
  };
}

function lagText(lag: MemberStatus['lag']): string {
  if (lag === undefined) return '';
  if (lag === 'unknown') return 'unknown';
  return (lag / 1048576).toFixed(lag === 0 ? 0 : 2);
}

export function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = `+${w.map((n) => '-'.repeat(n + 2)).join('+')}+`;
  const fmt = (r: string[]) => `| ${r.map((c, i) => (c ?? '').padEnd(w[i]!)).join(' | ')} |`;
  return [line, fmt(head), line, ...rows.map(fmt), line].join('\n');
}

function roleText(role: string): string {
  return role === 'leader'
    ? 'Leader'
    : role === 'sync_standby'
      ? 'Sync Standby'
      : role === 'replica'
        ? 'Replica'
        : role;
}

/** Member, host, role, state, timeline and lag of one member, as table cells. */
function memberCells(m: MemberStatus): string[] {
  return [
    m.name,
    m.host,
    roleText(m.role),
    m.state,
    m.timeline === undefined ? '' : String(m.timeline),
    lagText(m.lag),
  ];
}

/** The members alone, as `patronictl list` shows them: member, host, role, state, timeline, lag. */
export function formatMembers(members: MemberStatus[]): string {
  const rows = members.map((m) => [...memberCells(m), m.pendingRestart ? '*' : '']);
  return table(['Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB', 'Pending restart'], rows);
}

/** One table: Patroni members with the HAProxy ports they are UP on, then the VIP and etcd in its caption. */
export function formatStatus(s: ClusterStatus): string {
  const portOf: Record<string, number> = {
    [PROXIES.primary]: s.ports.primary,
    [PROXIES.replicas]: s.ports.replicas,
    [PROXIES.all]: s.ports.all,
  };
  const upOn = (member: string) => {
    const ports = new Set<number>();
    for (const b of s.balancers)
      for (const [px, names] of Object.entries(b.backends))
        if (names.includes(member) && portOf[px]) ports.add(portOf[px]!);
    return [...ports].sort().join(',');
  };
  const rows = s.members.map((m) => [...memberCells(m), upOn(m.name), m.pendingRestart ? '*' : '']);
  const etcdHealthy = s.etcd.members.filter((m) => m.healthy).length;
  const caption = [
    `Cluster ${s.cluster}${s.paused ? ' (paused)' : ''}`,
    s.vip
      ? `VIP ${s.vip} on ${s.vipHolders.join(', ') || 'no host'}${s.vipHolders.length > 1 ? ' (more than one!)' : ''}`
      : 'no VIP',
    s.etcd.error
      ? `etcd: ${s.etcd.error}`
      : `etcd ${etcdHealthy}/${s.etcd.members.length} healthy, leader ${s.etcd.leader ?? 'none'}`,
  ].join(' | ');
  const notes = [
    ...(s.patroniError ? [`patroni: ${s.patroniError}`] : []),
    ...s.balancers.filter((b) => b.error).map((b) => `haproxy on ${b.host}: ${b.error}`),
    ...s.etcd.members.filter((m) => !m.healthy).map((m) => `etcd ${m.name} unhealthy${m.error ? `: ${m.error}` : ''}`),
  ];
  return [
    caption,
    table(['Member', 'Host', 'Role', 'State', 'TL', 'Lag in MB', 'HAProxy UP on', 'Pending restart'], rows),
    ...(s.certificates.length ? [`Certificates valid for: ${certText(s.certificates)}`] : []),
    ...notes,
  ].join('\n');
}
