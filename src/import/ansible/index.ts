// Import an Ansible inventory (autobase / postgresql_cluster layout) as a pgha inventory.
import { relative } from 'node:path';
import { loadAnsible } from './load.js';
import { mapAnsible } from './map.js';
import { emitInventory } from './emit.js';

export interface ImportOptions {
  /** static (default): the Ansible hosts as they are, reached with their SSH settings; lab: the same layout as a local lab. */
  provider?: 'static' | 'lab';
  /** pgha cluster name (default: from patroni_cluster_name). */
  cluster?: string;
}

export interface ImportResult {
  /** The pgha inventory YAML. */
  text: string;
  /** Every variable not written, where it was set (file:line, relative to the Ansible inventory's folder) and why. */
  unmapped: { name: string; where: string; why: string }[];
}

export function importAnsible(path: string, opts: ImportOptions = {}): ImportResult {
  const a = loadAnsible(path);
  const m = mapAnsible(a, opts);
  const text = emitInventory(m, relative(process.cwd(), a.file) || a.file);
  return {
    text,
    unmapped: m.unmapped.map((u) => ({
      name: u.name,
      where: u.where,
      why: u.host ? `${u.why} (host ${u.host})` : u.why,
    })),
  };
}
