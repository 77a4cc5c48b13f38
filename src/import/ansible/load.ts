// An Ansible inventory with its group_vars/ and host_vars/ folders, read as Ansible reads it: every host's
// variables after Ansible's precedence, each with the file (and line) it came from.
//
// Precedence, lowest first (Ansible's defaults, hash_behaviour=replace so a later value replaces a whole map):
//   inventory-file vars of all, then of the host's other groups; group_vars/all, then group_vars/<group>;
//   inventory-file vars of the host; host_vars/<host>.
// Groups are ordered parents before children (by depth below all), then by ansible_group_priority, then by name.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { UserError } from '../../util/errors.js';
import { parseIni } from './ini.js';
import { parseYamlInventory, readVarsYaml } from './yaml.js';
import type { RawGroup, RawInventory, VarMap } from './types.js';

export interface AnsibleHost {
  /** inventory_hostname */
  name: string;
  /** Every group the host is in (directly or through children), in precedence order, without all. */
  groups: string[];
  /** Variables after precedence. */
  vars: VarMap;
  /** Names of the variables set on the host itself (its inventory line or host_vars/), not through a group. */
  own: Set<string>;
}

export interface AnsibleInventory {
  file: string;
  dir: string;
  hosts: AnsibleHost[];
  groups: Map<string, RawGroup>;
}

const INVENTORY_NAMES = [
  'inventory',
  'hosts',
  'inventory.ini',
  'hosts.ini',
  'inventory.yml',
  'inventory.yaml',
  'hosts.yml',
  'hosts.yaml',
];
const VAR_EXTENSIONS = ['', '.yml', '.yaml', '.json'];

/** The inventory file: the path itself, or a known inventory file name inside a folder. */
export function inventoryFile(path: string): string {
  const p = resolve(path);
  if (!existsSync(p))
    throw new UserError(
      `Ansible inventory ${p} does not exist`,
      'give the path of the inventory file (e.g. .../inventory)',
    );
  if (!statSync(p).isDirectory()) return p;
  const found = INVENTORY_NAMES.map((n) => join(p, n)).find((f) => existsSync(f) && statSync(f).isFile());
  if (!found)
    throw new UserError(
      `no inventory file in ${p} (looked for ${INVENTORY_NAMES.join(', ')})`,
      'give the path of the inventory file itself',
    );
  return found;
}

/** INI or YAML: by extension, else by content (an INI section header, or a top-level YAML key). */
export function parseInventoryText(text: string, name: string): RawInventory {
  const ext = extname(name).toLowerCase();
  if (ext === '.yml' || ext === '.yaml' || ext === '.json') return parseYamlInventory(text, name);
  if (ext === '.ini') return parseIni(text, name);
  const significant = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && !l.startsWith(';') && l !== '---');
  const yamlish =
    significant.length > 0 &&
    /^[^\s=[]+:(\s|$)/.test(significant[0]) &&
    !significant.some((l) => /^\[[^\]]+\]$/.test(l));
  return yamlish ? parseYamlInventory(text, name) : parseIni(text, name);
}

/** The variable files of one group or host under group_vars/ or host_vars/: NAME, NAME.yml, NAME.yaml, NAME.json, NAME/. */
function varFiles(base: string, name: string): string[] {
  const out: string[] = [];
  for (const ext of VAR_EXTENSIONS) {
    const f = join(base, name + ext);
    if (!existsSync(f)) continue;
    if (statSync(f).isDirectory()) out.push(...walk(f));
    else out.push(f);
  }
  return out;
}

function walk(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.'))
    .sort()
    .flatMap((n) => {
      const f = join(dir, n);
      if (statSync(f).isDirectory()) return walk(f);
      return VAR_EXTENSIONS.includes(extname(n).toLowerCase()) ? [f] : [];
    });
}

function readVarFiles(dir: string, base: string, name: string): VarMap {
  const out: VarMap = {};
  for (const f of varFiles(join(dir, base), name))
    Object.assign(out, readVarsYaml(readFileSync(f, 'utf8'), relative(dir, f)));
  return out;
}

/** Depth of each group below all (the longest path, as Ansible counts it); a cycle is an error. */
function depths(groups: Map<string, RawGroup>, file: string): Map<string, number> {
  const depth = new Map<string, number>([['all', 0]]);
  const visit = (g: string, d: number, path: string[]) => {
    if (path.includes(g))
      throw new UserError(
        `${file}: groups form a cycle: ${[...path, g].join(' -> ')}`,
        'a group cannot be its own child',
      );
    if ((depth.get(g) ?? -1) < d) depth.set(g, d);
    for (const c of groups.get(g)?.children ?? []) visit(c, d + 1, [...path, g]);
  };
  visit('all', 0, []);
  for (const g of groups.keys()) if (!depth.has(g)) visit(g, 1, []);
  return depth;
}

export function loadAnsible(path: string): AnsibleInventory {
  const file = inventoryFile(path);
  const dir = dirname(file);
  const raw = parseInventoryText(readFileSync(file, 'utf8'), basename(file));
  const groups = raw.groups;
  // Top-level groups are children of all; hosts in no other group are in ungrouped.
  const isChild = new Set([...groups.values()].flatMap((g) => [...g.children]));
  for (const g of groups.keys()) if (g !== 'all' && !isChild.has(g)) groups.get('all')!.children.add(g);
  const direct = new Map<string, Set<string>>(raw.hostOrder.map((h) => [h, new Set()]));
  for (const g of groups.values()) for (const h of g.hosts.keys()) direct.get(h)!.add(g.name);
  for (const gs of direct.values()) {
    if ([...gs].some((g) => g !== 'all' && g !== 'ungrouped')) gs.delete('ungrouped');
    else gs.add('ungrouped');
  }
  const depth = depths(groups, basename(file));
  const parents = new Map<string, Set<string>>();
  for (const g of groups.values())
    for (const c of g.children) parents.set(c, (parents.get(c) ?? new Set()).add(g.name));
  const groupFileVars = new Map<string, VarMap>();
  const fileVars = (g: string) => {
    if (!groupFileVars.has(g)) groupFileVars.set(g, readVarFiles(dir, 'group_vars', g));
    return groupFileVars.get(g)!;
  };
  const priority = (g: string) => {
    const v = fileVars(g).ansible_group_priority?.value ?? groups.get(g)?.vars.ansible_group_priority?.value;
    return typeof v === 'number' ? v : Number(v ?? 1) || 1;
  };

  const hosts = raw.hostOrder.map((name): AnsibleHost => {
    const all = new Set<string>();
    const up = (g: string) => {
      if (all.has(g)) return;
      all.add(g);
      for (const p of parents.get(g) ?? []) up(p);
    };
    for (const g of direct.get(name) ?? []) up(g);
    all.delete('all');
    const ordered = [...all].sort(
      (a, b) => (depth.get(a) ?? 0) - (depth.get(b) ?? 0) || priority(a) - priority(b) || (a < b ? -1 : a > b ? 1 : 0),
    );
    const inline: VarMap = {};
    for (const g of groups.values()) if (g.hosts.has(name)) Object.assign(inline, g.hosts.get(name));
    const hostFiles = readVarFiles(dir, 'host_vars', name);
    const layers: VarMap[] = [
      groups.get('all')!.vars,
      ...ordered.map((g) => groups.get(g)!.vars),
      fileVars('all'),
      ...ordered.map((g) => fileVars(g)),
      inline,
      hostFiles,
    ];
    const vars: VarMap = {};
    for (const l of layers) Object.assign(vars, l);
    delete vars.ansible_group_priority;
    return { name, groups: ordered, vars, own: new Set([...Object.keys(inline), ...Object.keys(hostFiles)]) };
  });
  return { file, dir, hosts, groups };
}
