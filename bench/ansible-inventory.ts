// The Ansible side of the comparison (bench/compare.ts): an Ansible inventory for bench/ansible/site.yml from a
// pgha inventory, so that both tools build the same cluster on the same kind of hosts. The pgha inventory's own
// vars go over unchanged (bench/ansible uses pgha's variable names); the groups are pgha's roles; the secrets are
// given (pgha keeps its own in .pgha/NAME/secrets.yml).
import { randomBytes } from 'node:crypto';
import type { Inventory } from '../src/inventory/types.js';
import { routerIdFor } from '../src/components/keepalived/settings.js';

/** The secrets the playbook needs, under pgha's names. */
export const ANSIBLE_SECRET_KEYS = [
  'postgres_superuser_password',
  'replication_password',
  'rewind_password',
  'patroni_api_password',
  'haproxy_stats_password',
  'vrrp_password',
] as const;

export type AnsibleSecrets = Record<(typeof ANSIBLE_SECRET_KEYS)[number], string>;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Letters and digits only (no quoting needed in any file); vrrp_password 8 characters (keepalived's limit). */
export function newSecrets(random: (n: number) => Buffer = randomBytes): AnsibleSecrets {
  const word = (n: number) => [...random(n)].map((b) => ALPHABET[b % ALPHABET.length]).join('');
  const out = {} as AnsibleSecrets;
  for (const k of ANSIBLE_SECRET_KEYS) out[k] = word(k === 'vrrp_password' ? 8 : 32);
  return out;
}

export const ANSIBLE_GROUPS = ['etcd', 'postgres', 'haproxy'] as const;

/** The inventory (YAML-ready object): all.vars, every host with its address, one group per role. */
export function ansibleInventory(inv: Inventory, secrets: AnsibleSecrets, keyFile: string) {
  if (!inv.vip) throw new Error(`${inv.file}: the benchmark needs network.vip`);
  // Hosts in the pgha inventory's order (groups['all'] follows it, as pgha's host list does), groups by role.
  const hosts = Object.fromEntries(inv.hosts.map((h) => [h.name, { ansible_host: h.address }]));
  const children: Record<string, { hosts: Record<string, null> }> = {};
  for (const g of ANSIBLE_GROUPS) {
    const members = inv.hosts.filter((h) => h.roles.includes(g));
    if (!members.length) throw new Error(`${inv.file}: no host with role ${g}`);
    children[g] = { hosts: Object.fromEntries(members.map((h) => [h.name, null])) };
  }
  const user = inv.hosts[0]?.ssh.user ?? 'root';
  return {
    all: {
      vars: {
        ...inv.vars,
        ansible_user: user,
        ansible_ssh_private_key_file: keyFile,
        pgha_cluster: inv.cluster,
        vip: inv.vip,
        vip_prefix: inv.prefix,
        keepalived_virtual_router_id: Number(inv.vars.keepalived_virtual_router_id) || routerIdFor(inv.cluster),
        ...secrets,
      },
      hosts,
      children,
    },
  };
}
