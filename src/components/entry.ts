// A component's entry in the registry: its steps, and what it declares for the inventory (roles, variables,
// name prefixes, rules) and for the secrets file. The registry turns the entries into the loader's Catalog.
import type { Component } from '../engine/types.js';
import type { SecretSpec } from '../engine/secrets.js';
import type { Catalog, InventoryRule, RoleDecl, SettingDecl, VarRule } from '../inventory/catalog.js';

export interface ComponentEntry {
  /** The steps the playbook names as `component: <name>` (none for an entry that only declares variables). */
  component?: Component;
  roles?: readonly RoleDecl[];
  /** Variables it reads (from defineSettings: `.list` and `.rules`). */
  settings?: { list: readonly SettingDecl[]; rules: readonly VarRule[] };
  /** Name prefixes it owns: an undeclared variable with one is a typo (patroni_, postgres_, ...). */
  prefixes?: readonly string[];
  secrets?: readonly SecretSpec[];
  /** Rules across hosts, checked at load. */
  inventoryRules?: readonly InventoryRule[];
}

/** The loader's view of the components: every role, variable, prefix and rule, in registry order. */
export function catalogOf(entries: readonly ComponentEntry[]): Catalog {
  const settings = entries.flatMap((e) => e.settings?.list ?? []);
  const seen = new Set<string>();
  for (const s of settings) {
    if (seen.has(s.name)) throw new Error(`variable ${s.name} is declared by two components`);
    seen.add(s.name);
  }
  return {
    roles: entries.flatMap((e) => e.roles ?? []),
    settings,
    prefixes: entries.flatMap((e) => e.prefixes ?? []),
    rules: entries.flatMap((e) => e.settings?.rules ?? []),
    inventoryRules: entries.flatMap((e) => e.inventoryRules ?? []),
  };
}
