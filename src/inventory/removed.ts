// Hosts taken out of the cluster with `pgha remove` that are still in the inventory file: pgha leaves the user's
// file alone and records them beside it (.pgha/<inventory>/removed.json). Every command skips a recorded host, with
// a warning, until it is deleted from the file (then the record goes too), so `up` never brings it back by itself
// and verify and status do not expect it.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { sidecarDir, sidecarPath, type Inventory } from './types.js';

function readNames(inv: Pick<Inventory, 'file'>): string[] {
  try {
    const doc = JSON.parse(readFileSync(sidecarPath(inv, 'removed.json'), 'utf8')) as { hosts?: unknown };
    return Array.isArray(doc.hosts) ? doc.hosts.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

function writeNames(inv: Pick<Inventory, 'file'>, names: string[]): void {
  const file = sidecarPath(inv, 'removed.json');
  if (!names.length) {
    rmSync(file, { force: true });
    return;
  }
  mkdirSync(sidecarDir(inv), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify({ hosts: [...new Set(names)].sort() }, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function recordRemoved(inv: Pick<Inventory, 'file'>, name: string): void {
  writeNames(inv, [...readNames(inv), name]);
}

/** The warning for a recorded host still in the file. */
export function removedWarning(inv: Pick<Inventory, 'file'>, name: string): string {
  return (
    `${name} was removed from the cluster with pgha remove but is still in ${inv.file}: it is skipped; ` +
    `delete it from that file (to add it back later, delete it, run pgha plan once, then add it again)`
  );
}

/** Drops recorded hosts from the loaded inventory (with a warning each); forgets records the file no longer has. */
export function skipRemoved(inv: Inventory): Inventory {
  const names = readNames(inv);
  if (!names.length) return inv;
  const present = names.filter((n) => inv.hosts.some((h) => h.name === n));
  if (present.length !== names.length) writeNames(inv, present);
  if (!present.length) return inv;
  const gone = new Set(present);
  inv.hosts = inv.hosts.filter((h) => !gone.has(h.name));
  for (const g of Object.keys(inv.groups)) inv.groups[g] = inv.groups[g]!.filter((n) => !gone.has(n));
  inv.warnings.push(...present.map((n) => removedWarning(inv, n)));
  return inv;
}
