// Inventory variables: the schema of the ones the components declare (src/inventory/catalog.ts), the declared
// name an unknown one most likely means, and the merge rule.
import { nearest } from '../util/nearest.js';
import type { Catalog, SettingDecl } from './catalog.js';

/** The JSON schema of one declared variable (a bad value names its line). */
export function varSchema(d: SettingDecl): Record<string, unknown> {
  switch (d.type) {
    case 'int':
      return {
        type: 'integer',
        minimum: d.min ?? 0,
        ...(d.max !== undefined ? { maximum: d.max } : {}),
        description: d.doc,
      };
    case 'string':
      return { type: 'string', pattern: d.pattern, description: d.doc };
    case 'bool':
      return { type: 'boolean', description: d.doc };
    case 'map':
      return {
        type: 'object',
        propertyNames: { pattern: d.keyPattern },
        additionalProperties: { type: ['string', 'number', 'boolean'] },
        description: d.doc,
      };
    case 'list':
      return { type: 'array', items: d.items, description: d.doc };
  }
}

/** Schema properties of every declared variable, in declaration order. */
export function knownVars(c: Catalog): Record<string, Record<string, unknown>> {
  return Object.fromEntries(c.settings.map((d) => [d.name, varSchema(d)]));
}

/** The text of the `vars` description: what the components read, and the precedence. */
export function varsDescription(c: Catalog): string {
  return (
    "Variables. Precedence, highest first: host vars, then the host's groups in the order listed on the host " +
    '(a later group wins over an earlier one), then cluster vars. Maps (such as postgres_parameters) merge key by key; ' +
    'lists and scalars are replaced whole. The components read: ' +
    c.settings.map((d) => d.name).join(', ') +
    '. Any other name is an error (templates and playbooks see the declared ones).'
  );
}

/**
 * For a name no component declares: the declared name it most likely means, when it is close to one, is one
 * without its component prefix (synchronous_mode), or carries a component prefix (patroni_...). Undefined when
 * no declared name is near (the name is an error all the same).
 */
export function misspelledVar(name: string, c: Catalog): string | undefined {
  const known = c.settings.map((d) => d.name);
  if (known.includes(name)) return undefined;
  const near = nearest(name, known);
  if (near) return near;
  const unprefixed = known.find((k) => c.prefixes.some((p) => k.startsWith(p) && k.slice(p.length) === name));
  if (unprefixed) return unprefixed;
  const prefix = c.prefixes.find((p) => name.startsWith(p));
  if (!prefix) return undefined;
  const same = known.filter((k) => k.startsWith(prefix));
  return nearestAny(name.slice(prefix.length), same.length ? same : known, prefix.length);
}

/** The closest name, however far (nearest() gives up beyond a few edits); `skip` leaves out a shared prefix. */
function nearestAny(word: string, candidates: string[], skip: number): string | undefined {
  let best: string | undefined;
  let bestScore = -1;
  for (const name of candidates) {
    const c = name.slice(skip);
    // Longest common run of characters, then the shorter length difference: cheap and good enough for a hint.
    const score = commonRun(word, c) * 100 - Math.abs(c.length - word.length);
    if (score > bestScore) [best, bestScore] = [name, score];
  }
  return best;
}

function commonRun(a: string, b: string): number {
  let best = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < b.length; j++) {
      let k = 0;
      while (a[i + k] !== undefined && a[i + k] === b[j + k]) k++;
      if (k > best) best = k;
    }
  }
  return best;
}

/** Two map values read the same: as text, case-insensitive; true/false as on/off. Undefined equals nothing. */
export function sameMapValue(a: unknown, b: unknown): boolean {
  const text = (v: unknown) => (v === true ? 'on' : v === false ? 'off' : String(v).toLowerCase());
  return a !== undefined && b !== undefined && text(a) === text(b);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Merge b over a: plain maps merge key by key (recursively), anything else in b replaces a. Inputs are not changed. */
export function mergeVars(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    out[k] =
      isPlainObject(v) && isPlainObject(out[k]) ? mergeVars(out[k] as Record<string, unknown>, v) : structuredClone(v);
  }
  return out;
}

/** Host vars after precedence: cluster < each group (in the order given) < host. */
export function hostVars(
  cluster: Record<string, unknown>,
  groups: Record<string, unknown>[],
  host: Record<string, unknown>,
): Record<string, unknown> {
  return [...groups, host].reduce((acc, layer) => mergeVars(acc, layer), mergeVars({}, cluster));
}
