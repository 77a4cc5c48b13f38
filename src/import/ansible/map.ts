// From an Ansible inventory (autobase layout) to the content of a pgha inventory: roles from groups, hosts and
// SSH from host variables, cluster settings from the rest, and every variable that has no place, with why.
import { isAbsolute, relative, resolve } from 'node:path';
import { UserError } from '../../util/errors.js';
import { CLUSTER_PATTERN, HOSTNAME_PATTERN } from '../../inventory/schema.js';
import { hostAddressProblem, intToIpv4, ipv4ToInt, parseSubnet } from '../../inventory/net.js';
import type { Role } from '../../inventory/types.js';
import type { AnsibleInventory } from './load.js';
import { reasonFor, showValue } from './reasons.js';
import { DECISION_VARS, Settings, decision, type Unmapped } from './settings.js';
import { resolveTemplates, toBool, toInt } from './values.js';
import type { Sourced } from './types.js';
import { catalog } from '../../components/index.js';

/** pgha's default of a declared variable. */
const defaultOf = (name: string) => catalog.settings.find((d) => d.name === name)?.default as number;

export interface MapOptions {
  provider?: 'static' | 'lab';
  cluster?: string;
}

export interface SshOut {
  user?: string;
  port?: number;
  key_file?: string;
  become?: boolean;
}

export interface HostOut {
  name: string;
  /** inventory_hostname in Ansible. */
  from: string;
  address: string;
  roles: Role[];
  groups: string[];
  ssh: SshOut;
}

export interface Mapped {
  cluster: string;
  provider: 'static' | 'lab';
  subnet: string;
  vip?: string;
  ssh: SshOut;
  vars: Record<string, unknown>;
  groups: { name: string; from: string }[];
  hosts: HostOut[];
  /** Decisions the import made, for the header comment. */
  notes: string[];
  unmapped: Unmapped[];
}

/** Ansible group -> pgha role. */
export const ROLE_GROUPS: Record<string, Role> = {
  master: 'postgres',
  replica: 'postgres',
  postgres_cluster: 'postgres',
  etcd_cluster: 'etcd',
  balancers: 'haproxy',
};
const HOST_VARS = new Set([
  'hostname',
  'ansible_host',
  'ansible_ssh_host',
  'ansible_user',
  'ansible_ssh_user',
  'ansible_port',
  'ansible_ssh_port',
  'ansible_ssh_private_key_file',
  'ansible_private_key_file',
  'ansible_become',
  'ansible_connection',
]);
const HOSTNAME = new RegExp(HOSTNAME_PATTERN);

/** A name pgha takes for hosts and groups: lowercase letters, digits and dashes, starting with a letter. */
export function pghaName(text: string, prefix: string): string {
  let n = text
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!/^[a-z]/.test(n)) n = `${prefix}-${n}`;
  return n.slice(0, 63).replace(/-+$/, '');
}

function hostName(inventoryName: string, hostname: unknown): string {
  if (typeof hostname === 'string' && hostname.trim()) return pghaName(hostname.split('.')[0], 'host');
  if (HOSTNAME.test(inventoryName)) return inventoryName;
  if (ipv4ToInt(inventoryName) !== undefined) return `host-${inventoryName.replace(/\./g, '-')}`;
  return pghaName(inventoryName.split('.')[0], 'host');
}

/** The smallest network of prefix /24 or shorter holding every address. */
export function coveringSubnet(addresses: string[]): string {
  const ns = addresses.map((a) => ipv4ToInt(a)!);
  for (let prefix = 24; prefix >= 8; prefix--) {
    const mask = (0xffffffff << (32 - prefix)) >>> 0;
    const net = (ns[0] & mask) >>> 0;
    if (ns.every((n) => (n & mask) >>> 0 === net)) return `${intToIpv4(net)}/${prefix}`;
  }
  throw new UserError(
    `the host addresses ${addresses.join(', ')} share no /8 network`,
    'pgha needs every host and the VIP on one subnet',
  );
}

export function mapAnsible(a: AnsibleInventory, opts: MapOptions): Mapped {
  const provider = opts.provider ?? 'static';
  const notes: string[] = [];
  const st = new Settings();
  const decisions = new Map<string, { host: string; value: unknown; where: string }[]>();
  const hosts: HostOut[] = [];
  const taken = new Set<string>();
  const noAddress: string[] = [];

  for (const h of a.hosts) {
    const vars = resolveTemplates(h.vars);
    const roles = [...new Set(h.groups.filter((g) => g in ROLE_GROUPS).map((g) => ROLE_GROUPS[g]))].sort(
      (x, y) => ['postgres', 'etcd', 'haproxy'].indexOf(x) - ['postgres', 'etcd', 'haproxy'].indexOf(y),
    );
    let name = hostName(h.name, vars.hostname?.value);
    for (let i = 2; taken.has(name); i++) name = `${hostName(h.name, vars.hostname?.value)}-${i}`;
    if (!roles.length) {
      st.report(
        `host ${h.name}`,
        { value: h.groups.join(', '), where: whereOfHost(a, h.name) },
        `in no group pgha maps to a role (${Object.keys(ROLE_GROUPS).join(', ')}): not imported`,
      );
      continue;
    }
    taken.add(name);
    const addr = [vars.ansible_host, vars.ansible_ssh_host].find((s) => s !== undefined)?.value ?? h.name;
    const address = typeof addr === 'string' && ipv4ToInt(addr.trim()) !== undefined ? addr.trim() : undefined;
    if (!address) noAddress.push(`${h.name} (${showValue(addr)})`);
    const out: HostOut = { name, from: h.name, address: address ?? '', roles, groups: [], ssh: {} };
    hosts.push(out);
    const isPg = roles.includes('postgres');
    const keys = Object.keys(vars).sort(
      (x, y) => Number(x === 'local_postgresql_parameters') - Number(y === 'local_postgresql_parameters'),
    );
    for (const k of keys) {
      const s = vars[k];
      if (HOST_VARS.has(k)) hostVar(out, k, s, provider, a.dir, st, h.own.has(k));
      else if (DECISION_VARS.has(k))
        decisions.set(k, [...(decisions.get(k) ?? []), { host: name, value: s.value, where: s.where }]);
      else st.add(name, k, s, isPg, h.own.has(k));
    }
  }
  if (noAddress.length) {
    throw new UserError(
      `no IPv4 address for ${noAddress.join(', ')}`,
      "set ansible_host to the host's IPv4 address (pgha connects to addresses, not names)",
    );
  }
  const postgres = hosts.filter((h) => h.roles.includes('postgres'));
  const vars = st.consolidate(postgres.length);
  patroniTiming(vars, st);

  // Cluster name.
  const pcn = decision(decisions.get('patroni_cluster_name'));
  let cluster: string;
  if (opts.cluster !== undefined) {
    if (!new RegExp(CLUSTER_PATTERN).test(opts.cluster))
      throw new UserError(
        `cluster name "${opts.cluster}" is not valid`,
        'use lowercase letters, digits and dashes, starting with a letter, at most 32 characters',
      );
    cluster = opts.cluster;
    if (pcn.value !== undefined && pcn.value !== cluster)
      st.report(
        'patroni_cluster_name',
        { value: pcn.value, where: pcn.where! },
        `the cluster name was given as ${cluster}`,
      );
  } else if (typeof pcn.value === 'string' && pcn.value) {
    cluster = pghaName(pcn.value, 'pg').slice(0, 32).replace(/-+$/, '');
    if (cluster !== pcn.value)
      notes.push(
        `cluster name ${cluster} made from patroni_cluster_name "${pcn.value}" (pgha takes lowercase letters, digits and dashes)`,
      );
  } else {
    cluster = 'imported';
    notes.push('no patroni_cluster_name: the cluster is called "imported" (give another name with the cluster option)');
    if (pcn.why)
      st.report('patroni_cluster_name', { value: '', where: pcn.where! }, `differs between hosts (${pcn.why})`);
  }

  // PostgreSQL version: pgha installs Debian 12's PostgreSQL 15 only.
  const ver = decision(decisions.get('postgresql_version'));
  if (ver.why)
    st.report(
      'postgresql_version',
      { value: '', where: ver.where! },
      `differs between hosts (${ver.why}); pgha installs PostgreSQL 15`,
    );
  else if (ver.value !== undefined && toInt(ver.value) !== 15) {
    st.report(
      'postgresql_version',
      { value: ver.value, where: ver.where! },
      'pgha installs PostgreSQL 15 only (the Debian 12 one): the imported cluster runs 15; it is a new cluster, move the data with pg_dump/pg_restore or logical replication',
    );
  }

  // Synchronous replication: pgha keeps one synchronous replica.
  const sync = decision(decisions.get('synchronous_node_count'));
  if (sync.value !== undefined && toInt(sync.value) !== 1 && vars.patroni_synchronous_mode === true) {
    st.report(
      'synchronous_node_count',
      { value: sync.value, where: sync.where! },
      "pgha's synchronous mode keeps one synchronous replica",
    );
  } else if (sync.value !== undefined && toInt(sync.value) !== 1) {
    st.report(
      'synchronous_node_count',
      { value: sync.value, where: sync.where! },
      "synchronous_mode is off; pgha's synchronous mode keeps one synchronous replica",
    );
  }

  // Load balancing: balancers get HAProxy and keepalived, which need the VIP.
  const lb = decision(decisions.get('with_haproxy_load_balancing'));
  const lbOn = toBool(lb.value);
  const balancers = hosts.filter((h) => h.roles.includes('haproxy'));
  const vipD = decision(decisions.get('cluster_vip'));
  let vip: string | undefined;
  if (vipD.why) st.report('cluster_vip', { value: '', where: vipD.where! }, `differs between hosts (${vipD.why})`);
  else if (vipD.value !== undefined && vipD.value !== '') {
    const text = String(vipD.value).trim();
    if (ipv4ToInt(text) === undefined)
      st.report('cluster_vip', { value: vipD.value, where: vipD.where! }, 'not one IPv4 address');
    else if (hosts.some((h) => h.address === text))
      st.report('cluster_vip', { value: vipD.value, where: vipD.where! }, 'it is the address of a host');
    else vip = text;
  }
  if (balancers.length && !vip) {
    for (const b of balancers) b.roles = b.roles.filter((r) => r !== 'haproxy');
    notes.push(
      `group balancers (${balancers.map((b) => b.name).join(', ')}) has no usable cluster_vip: no haproxy role given (pgha's HAProxy hosts share a VIP with keepalived)`,
    );
  } else if (balancers.length) {
    notes.push(
      `group balancers -> role haproxy on ${balancers.map((b) => b.name).join(', ')} with the VIP ${vip}` +
        (lbOn === false
          ? ' (with_haproxy_load_balancing is false, but pgha reaches the cluster through HAProxy on the balancers: remove the role to go without)'
          : lbOn
            ? ' (with_haproxy_load_balancing: true)'
            : ''),
    );
  } else {
    if (lbOn) notes.push('with_haproxy_load_balancing is true but group balancers has no hosts: no haproxy role given');
    if (vip) {
      st.report(
        'cluster_vip',
        { value: vip, where: vipD.where! },
        'no balancers: pgha holds the VIP with keepalived on haproxy hosts only',
      );
      vip = undefined;
    }
  }
  if (lb.why)
    st.report('with_haproxy_load_balancing', { value: '', where: lb.where! }, `differs between hosts (${lb.why})`);
  for (const h of [...hosts]) {
    if (!h.roles.length) {
      hosts.splice(hosts.indexOf(h), 1);
      st.report(
        `host ${h.from}`,
        { value: 'balancers', where: whereOfHost(a, h.from) },
        'no role left without a VIP: not imported',
      );
    }
  }
  if (!hosts.length)
    throw new UserError(
      'no host of the Ansible inventory is in a group pgha maps to a role',
      `put hosts in ${Object.keys(ROLE_GROUPS).join(', ')}`,
    );

  // Network: the hosts' /24 (or the smallest larger network holding them all and the VIP).
  const subnet = coveringSubnet([...hosts.map((h) => h.address), ...(vip ? [vip] : [])]);
  notes.push(
    `network.subnet ${subnet}: the smallest /24 or larger network holding every host address${vip ? ' and the VIP' : ''}; set your network's own prefix if it differs`,
  );
  const parsed = parseSubnet(subnet);
  if (vip && parsed.ok && hostAddressProblem(vip, parsed.subnet))
    throw new UserError(
      `cluster_vip ${vip}: ${hostAddressProblem(vip, parsed.subnet)}`,
      "set cluster_vip to a free address of the hosts' subnet",
    );

  // Groups other than the role groups are kept as pgha groups.
  const groups: { name: string; from: string }[] = [];
  const skip = new Set(['all', 'ungrouped', ...Object.keys(ROLE_GROUPS)]);
  const names = new Set(hosts.map((h) => h.name));
  for (const g of [...a.groups.keys()].filter((x) => !skip.has(x)).sort()) {
    const members = hosts.filter((h) => a.hosts.find((x) => x.name === h.from)!.groups.includes(g));
    if (!members.length) continue;
    const n = pghaName(g, 'group');
    if (['etcd', 'postgres', 'haproxy', 'all'].includes(n) || names.has(n) || groups.some((x) => x.name === n)) {
      st.report(
        `group ${g}`,
        { value: members.map((m) => m.name).join(', '), where: a.groups.get(g)!.where },
        `its pgha name ${n} is a role, all, a host or another group`,
      );
      continue;
    }
    groups.push({ name: n, from: g });
    for (const m of members) m.groups.push(n);
  }

  return { cluster, provider, subnet, vip, ssh: commonSsh(hosts), vars, groups, hosts, notes, unmapped: st.unmapped };
}

/** Patroni's rule loop_wait + 2 * retry_timeout <= ttl (pgha's defaults for what is not set); else the three are reported. */
function patroniTiming(vars: Record<string, unknown>, st: Settings): void {
  const keys = ['patroni_ttl', 'patroni_loop_wait', 'patroni_retry_timeout'] as const;
  const [ttl, lw, rt] = keys.map((k) => (typeof vars[k] === 'number' ? (vars[k] as number) : defaultOf(k)));
  if (lw + 2 * rt <= ttl) return;
  for (const k of keys) {
    if (!(k in vars)) continue;
    st.report(
      k,
      { value: vars[k], where: st.values.get(k)![0].where },
      `patroni_loop_wait + 2 * patroni_retry_timeout (${lw} + 2 * ${rt}) exceeds patroni_ttl (${ttl}); pgha's defaults 8/2/3 are used`,
    );
    delete vars[k];
  }
}

function whereOfHost(a: AnsibleInventory, name: string): string {
  for (const g of a.groups.values())
    if (g.hosts.has(name)) return Object.values(g.hosts.get(name)!)[0]?.where ?? g.where;
  return relative(a.dir, a.file);
}

/** Host-level Ansible variables: name, address (read by the caller), SSH settings. */
function hostVar(
  out: HostOut,
  k: string,
  s: Sourced,
  provider: 'static' | 'lab',
  dir: string,
  st: Settings,
  own: boolean,
): void {
  const at = own ? out.name : undefined;
  if (k === 'hostname' || k === 'ansible_host' || k === 'ansible_ssh_host') return;
  if (k === 'ansible_connection') {
    if (s.value !== 'ssh' && s.value !== 'smart' && s.value !== 'paramiko')
      st.report(k, s, 'pgha reaches every host over SSH', at);
    return;
  }
  if (provider === 'lab') return st.report(k, s, 'provider lab logs in as root with the key it generates', at);
  if (k === 'ansible_user' || k === 'ansible_ssh_user') {
    if (typeof s.value === 'string' && /^[a-z_][a-z0-9_.-]*$/.test(s.value)) out.ssh.user = s.value;
    else st.report(k, s, 'not a user name pgha takes', at);
  } else if (k === 'ansible_port' || k === 'ansible_ssh_port') {
    const p = toInt(s.value);
    if (p !== undefined && p >= 1 && p <= 65535) out.ssh.port = p;
    else st.report(k, s, 'a port is a whole number from 1 to 65535', at);
  } else if (k === 'ansible_ssh_private_key_file' || k === 'ansible_private_key_file') {
    if (typeof s.value !== 'string' || !s.value) return st.report(k, s, 'not a file path', at);
    const p = s.value;
    out.ssh.key_file = p.startsWith('~') || isAbsolute(p) ? p : resolve(dir, p);
  } else if (k === 'ansible_become') {
    const b = toBool(s.value);
    if (b === undefined) st.report(k, s, 'takes true or false', at);
    else out.ssh.become = b;
  } else {
    st.report(k, s, reasonFor(k, s.value), at);
  }
}

/** SSH settings every host shares go to the inventory-wide ssh section; the rest stays on the hosts. */
function commonSsh(hosts: HostOut[]): SshOut {
  const common: SshOut = {};
  for (const k of ['user', 'port', 'key_file', 'become'] as const) {
    const first = hosts[0]?.ssh[k];
    if (first === undefined || !hosts.every((h) => h.ssh[k] === first)) continue;
    (common as Record<string, unknown>)[k] = first;
    for (const h of hosts) delete h.ssh[k];
  }
  return common;
}
