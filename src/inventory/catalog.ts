// What the components declare and the inventory checks against: roles, variables (type, default, range or
// pattern, doc, level) and rules across variables. The loader receives a Catalog; it never reads the components.

/** Where a variable is meant to be set: the same for the whole cluster, per group of hosts, or per host. */
export type SettingLevel = 'cluster' | 'group' | 'host';

interface SettingBase {
  /** The inventory variable, e.g. etcd_client_port. */
  name: string;
  /** One line for the schema and the docs (also shown with a bad value). */
  doc: string;
  level: SettingLevel;
}

export interface IntSetting extends SettingBase {
  type: 'int';
  default: number;
  /** Smallest accepted value (default 0). */
  min?: number;
  /** Largest accepted value (default: none). */
  max?: number;
}

export interface StringSetting extends SettingBase {
  type: 'string';
  default: string;
  /** Regular expression (source) the value must match. */
  pattern: string;
}

export interface BoolSetting extends SettingBase {
  type: 'bool';
  default: boolean;
}

export type MapValue = string | number | boolean;

/** A map of scalars, merged key by key over the default (and across cluster, group and host vars). */
export interface MapSetting extends SettingBase {
  type: 'map';
  default: Record<string, MapValue>;
  /** Regular expression (source) every key must match. */
  keyPattern: string;
  /**
   * Keys that only the cluster-wide (top-level) value may set: a group's or host's value that differs from it is
   * refused at load, with `why`.
   */
  clusterOnly?: { keys: readonly string[]; why: string };
}

/**
 * A list of entries (maps) whose form the JSON schema `items` gives: the schema checks it at load (an error names
 * its line). Replaced whole by a later level, never merged.
 */
export interface ListSetting extends SettingBase {
  type: 'list';
  default: readonly Record<string, unknown>[];
  items: Record<string, unknown>;
}

export type SettingDecl = IntSetting | StringSetting | BoolSetting | MapSetting | ListSetting;

export interface RoleDecl {
  name: string;
  /** What runs on a host with this role (a few words). */
  doc: string;
}

/** A rule across variables, checked per host at load with the defaults for what is not set. */
export interface VarRule {
  /** The variables it reads; an error points at the one set last for the host. */
  vars: readonly string[];
  /** Hosts it applies to: those with one of these roles (every host when absent). */
  roles?: readonly string[];
  /** A message when the host's vars break the rule (values of the wrong type count as their default). */
  check(vars: Record<string, unknown>): string | undefined;
}

/**
 * A rule across hosts (e.g. at most one host of a role, variables that need a role): it reads the hosts and the
 * file's data and gives each problem at a JSON pointer into the file (`/hosts/bk2/roles`, `/vars/backup_x`).
 */
export interface InventoryRule {
  check(view: { hosts: readonly { name: string; roles: readonly string[] }[]; data: unknown }): {
    ptr: string;
    message: string;
  }[];
}

export interface Catalog {
  roles: readonly RoleDecl[];
  settings: readonly SettingDecl[];
  /** Name prefixes owned by components (patroni_, etcd_, ...): an undeclared name with one is an error. */
  prefixes: readonly string[];
  rules: readonly VarRule[];
  /** Rules across hosts (none when absent). */
  inventoryRules?: readonly InventoryRule[];
}

export function roleNames(c: Catalog): string[] {
  return c.roles.map((r) => r.name);
}
