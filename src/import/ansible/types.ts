// Shapes shared by the Ansible inventory readers (INI, YAML), the layout loader and the mapping.

/** A variable's value and where it was set: a file relative to the inventory's folder, with its line when known. */
export interface Sourced {
  value: unknown;
  where: string;
}

export type VarMap = Record<string, Sourced>;

/** One group as an inventory source declares it (hosts with their inline vars, child groups, group vars). */
export interface RawGroup {
  name: string;
  hosts: Map<string, VarMap>;
  children: Set<string>;
  vars: VarMap;
  /** Where the group was first declared. */
  where: string;
}

/** What an inventory source (INI or YAML file) declares, before group_vars/ and host_vars/. */
export interface RawInventory {
  groups: Map<string, RawGroup>;
  /** Host names in the order they first appear. */
  hostOrder: string[];
}

/** Placeholder value of an ansible-vault encrypted string: it is never read, only reported. */
export const VAULT = '\u0000ansible-vault';

export function rawGroup(inv: RawInventory, name: string, where: string): RawGroup {
  let g = inv.groups.get(name);
  if (!g) {
    g = { name, hosts: new Map(), children: new Set(), vars: {}, where };
    inv.groups.set(name, g);
  }
  return g;
}

export function addHost(inv: RawInventory, group: string, host: string, vars: VarMap, where: string): void {
  const g = rawGroup(inv, group, where);
  g.hosts.set(host, { ...(g.hosts.get(host) ?? {}), ...vars });
  if (!inv.hostOrder.includes(host)) inv.hostOrder.push(host);
}
