// loadInventory: read, validate (schema, then checks across fields), normalize. All problems are reported at once.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { throwLocated, type Located } from '../util/yamlfile.js';
import { parseYamlText, schemaErrors } from './parse.js';
import { buildInventory } from './normalize.js';
import { checkInventory } from './checks.js';
import { resolveLimit } from './limit.js';
import type { Inventory } from './types.js';
import type { Catalog } from './catalog.js';

export { resolveLimit };

export interface LoadOptions {
  /** --limit expression: validated, and the chosen host names are kept in inventory.limit. */
  limit?: string;
}

/** Read and check an inventory against the roles and variables the components declare (`catalog`). */
export function loadInventory(file: string, catalog: Catalog, opts: LoadOptions = {}): Inventory {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(
      `cannot read inventory ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? (e as Error).message)}`,
      'give the path of an inventory YAML file (default inventory/lab.yml)',
      { file: path },
    );
  }
  return parseInventory(path, text, catalog, opts);
}

/** The same from text already read (the file name is used for messages and relative paths). */
export function parseInventory(file: string, text: string, catalog: Catalog, opts: LoadOptions = {}): Inventory {
  const path = resolve(file);
  const parsed = parseYamlText(path, text);
  if (parsed.data === null || parsed.data === undefined) {
    throw new UserError(`inventory ${path} is empty`, 'start from inventory/lab.yml', { file: path, line: 1 });
  }
  if (typeof parsed.data !== 'object' || Array.isArray(parsed.data)) {
    throw new UserError(
      `inventory ${path} must be a map (cluster, network, hosts, ...), got ${Array.isArray(parsed.data) ? 'a list' : typeof parsed.data}`,
      'start from inventory/lab.yml',
      { file: path, line: 1 },
    );
  }
  const built = buildInventory(parsed, catalog);
  const checked = checkInventory(parsed, built, catalog);
  const errors = dedupe([...parsed.errors, ...schemaErrors(parsed, catalog), ...built.errors, ...checked.errors]);
  if (errors.length)
    throwLocated(path, 'inventory', errors, 'fix the lines above; every field is described in src/inventory/schema.ts');
  const inv = built.inv;
  inv.warnings = checked.warnings.map((w) => `${path}:${w.line ?? '?'}: ${w.field}: ${w.message}`);
  if (opts.limit !== undefined) inv.limit = resolveLimit(inv, opts.limit).map((h) => h.name);
  return inv;
}

function dedupe(errs: Located[]): Located[] {
  const seen = new Set<string>();
  const out = errs.filter((e) => {
    const k = `${e.field}|${e.message}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
  return out.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}
