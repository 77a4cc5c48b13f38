// Checks across fields: addresses against the subnet and each other, roles that need other roles, member counts,
// Proxmox settings, and variables. Errors stop the load; warnings are kept in inventory.warnings.
import { fieldName, lineOf, type Located } from '../util/yamlfile.js';
import type { ParsedYaml } from './parse.js';
import type { Built } from './normalize.js';
import { hostAddressProblem, ipv4ToInt } from './net.js';
import { misspelledVar, sameMapValue } from './vars.js';
import { obj } from './normalize.js';
import type { Catalog } from './catalog.js';
import { parseJump } from '../util/jump.js';
import { nearest } from '../util/nearest.js';
import { JUMP_PATTERN } from './schema.js';

export function checkInventory(p: ParsedYaml, b: Built, catalog: Catalog): { errors: Located[]; warnings: Located[] } {
  const errors: Located[] = [];
  const warnings: Located[] = [];
  const at = (ptr: string, key = false) => lineOf(p.doc, p.lines, ptr, key);
  const err = (ptr: string, message: string, key = false) =>
    errors.push({ line: at(ptr, key), field: fieldName(ptr), message });
  const warn = (ptr: string, message: string, key = false) =>
    warnings.push({ line: at(ptr, key), field: fieldName(ptr), message });
  const { inv, subnet } = b;

  // Addresses: valid in the subnet, unique, and none of them the VIP or the lab bridge address.
  const used = new Map<number, string>(); // address -> what uses it
  const claim = (ptr: string, address: string, who: string) => {
    const n = ipv4ToInt(address);
    if (n === undefined) return; // the schema reported it
    if (subnet) {
      const problem = hostAddressProblem(address, subnet);
      if (problem) return err(ptr, problem);
    }
    const other = used.get(n);
    if (other) err(ptr, `${address} is already used by ${other}`);
    else used.set(n, who);
  };
  if (inv.provider.lab && subnet)
    claim(
      '/provider/lab/bridge_address',
      inv.provider.lab.bridgeAddress,
      'the lab bridge (provider.lab.bridge_address)',
    );
  for (const h of inv.hosts) if (h.address) claim(`/hosts/${h.name}/address`, h.address, `host ${h.name}`);
  if (inv.vip) claim('/network/vip', inv.vip, 'the VIP');

  // Roles that need other roles.
  const names = (r: string) => inv.groups[r] ?? [];
  const list = (r: string) => names(r).join(', ');
  const have = (r: string) => (names(r).length === 1 ? `host ${list(r)} has` : `hosts ${list(r)} have`);
  if (inv.hosts.length && inv.hosts.every((h) => !h.roles.length))
    warn(
      '/hosts',
      'no host has a role: there is no cluster to build here (pgha lab and pgha run work on these hosts, pgha up would only fail its checks)',
      true,
    );
  else if (inv.hosts.length) {
    if (!names('postgres').length)
      err('/hosts', 'no host has the postgres role: give it to at least one host (two or more for failover)', true);
    if (names('postgres').length && !names('etcd').length) {
      err(
        '/hosts',
        `${have('postgres')} the postgres role but no host has the etcd role: Patroni needs an etcd cluster (give etcd to 3 hosts)`,
        true,
      );
    }
    if (names('haproxy').length && !inv.vip) {
      err(
        p.data && obj(p.data).network ? '/network' : '',
        `${have('haproxy')} the haproxy role but network.vip is not set: keepalived needs a virtual IP in the subnet for them to share`,
        true,
      );
    }
    if (inv.vip && !names('haproxy').length)
      warn('/network/vip', 'a VIP is set but no host has the haproxy role: nothing will hold it');
    const etcd = names('etcd').length;
    if (etcd && (etcd < 3 || etcd % 2 === 0)) {
      warn(
        '/hosts',
        `${etcd} etcd member${etcd > 1 ? 's' : ''} (${list('etcd')}): use an odd number, at least 3, so etcd keeps quorum when one member fails`,
        true,
      );
    }
    if (names('postgres').length === 1)
      warn('/hosts', `one postgres host (${list('postgres')}): there is no replica to fail over to`, true);
    if (names('haproxy').length === 1)
      warn('/hosts', `one haproxy host (${list('haproxy')}): the VIP has nowhere to move`, true);
  }

  checkJumps(p, inv, err);

  // Provider sections that do not match the provider type.
  const prov = obj(obj(p.data).provider);
  if (prov.lab !== undefined && inv.provider.type !== 'lab')
    err('/provider/lab', `lab settings are only used with provider lab (type is ${inv.provider.type})`, true);
  if (prov.proxmox !== undefined && inv.provider.type !== 'proxmox')
    err(
      '/provider/proxmox',
      `proxmox settings are only used with provider proxmox (type is ${inv.provider.type})`,
      true,
    );

  if (inv.provider.proxmox) {
    const px = inv.provider.proxmox;
    const gatewayProblem = (gw: string) => {
      const problem = subnet ? hostAddressProblem(gw, subnet) : undefined;
      if (problem) return `gateway ${problem}`;
      const taken = used.get(ipv4ToInt(gw) ?? -1);
      return taken ? `gateway ${gw} is the address of ${taken}` : undefined;
    };
    if (!px.api.verifyTls) {
      warn(
        '/provider/proxmox/api/verify_tls',
        `TLS verification of the Proxmox API at ${px.api.host} is off: anyone on the path can read the API token; set ca_file to the node's pve-root-ca.pem instead`,
      );
    }
    if (px.defaults.gateway) {
      const problem = gatewayProblem(px.defaults.gateway);
      if (problem) err('/provider/proxmox/defaults/gateway', problem);
    }
    const vmids = new Map<number, string>();
    for (const h of inv.hosts) {
      const hp = h.proxmox;
      if (!hp) continue;
      const own = obj(obj(obj(obj(p.data).hosts)[h.name]).proxmox);
      if (hp.node && !px.nodes.some((n) => n.name === hp.node)) {
        err(
          `/hosts/${h.name}/proxmox/node`,
          `node ${hp.node} is not one of provider.proxmox.nodes (${px.nodes.map((n) => n.name).join(', ')})`,
        );
      }
      if (hp.vmid !== undefined) {
        if (hp.vmid === px.template) err(`/hosts/${h.name}/proxmox/vmid`, `vmid ${hp.vmid} is the template's vmid`);
        else if (vmids.has(hp.vmid))
          err(`/hosts/${h.name}/proxmox/vmid`, `vmid ${hp.vmid} is already used by host ${vmids.get(hp.vmid)}`);
        else vmids.set(hp.vmid, h.name);
      }
      if (own.gateway !== undefined && hp.gateway) {
        const problem = gatewayProblem(hp.gateway);
        if (problem) err(`/hosts/${h.name}/proxmox/gateway`, problem);
      }
      if (hp.ip === 'static' && !hp.gateway)
        warn(
          `/hosts/${h.name}`,
          'ip static without a gateway (hosts.*.proxmox.gateway or provider.proxmox.defaults.gateway): the VM reaches only its subnet',
          true,
        );
      if (!hp.sshPublicKey)
        warn(
          `/hosts/${h.name}`,
          'no ssh_public_key for cloud-init (hosts.*.proxmox or provider.proxmox.defaults): the VM relies on keys already in the template',
          true,
        );
    }
  }

  // Variables: every name must be declared by a component (the nearest declared one is named); map keys that only
  // the top-level vars may set; the components' rules.
  const varLayers: [string, unknown][] = [['/vars', obj(p.data).vars]];
  for (const [g, spec] of Object.entries(obj(obj(p.data).groups)))
    varLayers.push([`/groups/${g}/vars`, obj(spec).vars]);
  for (const [h, spec] of Object.entries(obj(obj(p.data).hosts))) varLayers.push([`/hosts/${h}/vars`, obj(spec).vars]);
  const declared = new Set(catalog.settings.map((d) => d.name));
  for (const [ptr, vars] of varLayers) {
    for (const k of Object.keys(obj(vars))) {
      if (declared.has(k)) continue;
      const near = misspelledVar(k, catalog);
      err(
        `${ptr}/${k}`,
        `variable '${k}' is not read by pgha: ${near ? `did you mean '${near}'?` : 'no component declares it'}`,
        true,
      );
    }
  }
  for (const [ptr, vars] of varLayers.slice(1))
    for (const { ptr: at, message } of clusterOnlyProblems(catalog, obj(obj(p.data).vars), ptr, obj(vars)))
      err(at, message, true);
  // Rules across variables, with the declared defaults for what is not set; one error per message, at the
  // variable set last for the first host that breaks it.
  for (const rule of catalog.rules) {
    const broken = new Map<string, { ptr: string; hosts: string[] }>();
    for (const h of inv.hosts.filter((x) => !rule.roles || x.roles.some((r) => rule.roles!.includes(r)))) {
      const msg = rule.check(h.vars);
      if (!msg) continue;
      const t = broken.get(msg) ?? { ptr: rulePointer(p.data, rule.vars, h.name, h.groups), hosts: [] };
      broken.set(msg, { ...t, hosts: [...t.hosts, h.name] });
    }
    for (const [msg, t] of broken) err(t.ptr, `${msg} (hosts ${t.hosts.join(', ')})`, true);
  }
  for (const rule of catalog.inventoryRules ?? [])
    for (const { ptr, message } of rule.check({ hosts: inv.hosts, data: p.data })) err(ptr, message, true);

  return { errors, warnings };
}

/**
 * A group's or host's map entries that only the top-level vars may set (MapSetting.clusterOnly), with another
 * value than the cluster-wide one (top-level vars over the default).
 */
function clusterOnlyProblems(
  catalog: Catalog,
  top: Record<string, unknown>,
  ptr: string,
  vars: Record<string, unknown>,
): { ptr: string; message: string }[] {
  const out: { ptr: string; message: string }[] = [];
  for (const d of catalog.settings) {
    if (d.type !== 'map' || !d.clusterOnly) continue;
    const cluster: Record<string, unknown> = { ...d.default, ...obj(top[d.name]) };
    for (const [k, v] of Object.entries(obj(vars[d.name]))) {
      if (!d.clusterOnly.keys.includes(k) || sameMapValue(v, cluster[k])) continue;
      const was = cluster[k] === undefined ? 'is not set there' : `is ${JSON.stringify(cluster[k])}`;
      out.push({
        ptr: `${ptr}/${d.name}/${k}`,
        message: `${d.name}.${k} (${JSON.stringify(v)}) can only be set for the whole cluster (the cluster-wide value ${was}): ${d.clusterOnly.why}; set it in the top-level vars`,
      });
    }
  }
  return out;
}

/** Where a rule's vars are set last for a host: host vars, then its groups from the last, then cluster vars. */
function rulePointer(data: unknown, keys: readonly string[], host: string, groups: string[]): string {
  const layers = [`/hosts/${host}/vars`, ...[...groups].reverse().map((g) => `/groups/${g}/vars`), '/vars'];
  for (const ptr of layers) {
    const v = obj(
      ptr
        .split('/')
        .slice(1)
        .reduce<unknown>((o, k) => obj(o)[k], data),
    );
    const k = keys.find((x) => x in v);
    if (k) return `${ptr}/${k}`;
  }
  return '/vars';
}

/** ssh.jump values: a port in range; a plain name that is no inventory host is refused in a lab (it has no other hosts). */
function checkJumps(p: ParsedYaml, inv: Built['inv'], err: (ptr: string, message: string) => void): void {
  const data = obj(p.data);
  const layers: [string, unknown][] = [['/ssh', data.ssh]];
  for (const [g, spec] of Object.entries(obj(data.groups))) layers.push([`/groups/${g}/ssh`, obj(spec).ssh]);
  for (const [h, spec] of Object.entries(obj(data.hosts))) layers.push([`/hosts/${h}/ssh`, obj(spec).ssh]);
  const names = inv.hosts.map((h) => h.name);
  for (const [ptr, ssh] of layers) {
    const jump = obj(ssh).jump;
    if (typeof jump !== 'string' || jump === 'none' || !new RegExp(JUMP_PATTERN).test(jump)) continue; // the schema reports the form
    const spec = parseJump(jump);
    if (!spec) {
      err(`${ptr}/jump`, `'${jump}': the port must be between 1 and 65535`);
      continue;
    }
    const plain = !spec.user && !spec.port && !spec.host.includes('.');
    if (plain && !names.includes(spec.host) && inv.provider.type === 'lab') {
      const near = nearest(spec.host, names);
      err(
        `${ptr}/jump`,
        `'${jump}' is not a host of this inventory${near ? `: did you mean '${near}'?` : ` (hosts: ${names.join(', ')})`}`,
      );
    }
  }
}
