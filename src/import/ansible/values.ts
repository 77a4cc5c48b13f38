// Values from Ansible into pgha's types: booleans and numbers as Ansible's filters read them, simple
// {{ var }} references, autobase's PostgreSQL parameter lists, and the checks of pgha's known variables.
import { knownVars } from '../../inventory/vars.js';
import { catalog } from '../../components/index.js';

const KNOWN_VARS = knownVars(catalog);
import { showValue } from './reasons.js';
import type { VarMap } from './types.js';

export type Checked = { ok: true; value: unknown } | { ok: false; why: string };

/** Ansible's bool filter: true/yes/on/1 and false/no/off/0, any case. */
export function toBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === 0) return v === 1;
  if (typeof v !== 'string') return undefined;
  const t = v.trim().toLowerCase();
  if (['true', 'yes', 'on', '1', 'y'].includes(t)) return true;
  if (['false', 'no', 'off', '0', 'n'].includes(t)) return false;
  return undefined;
}

export function toInt(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) ? v : undefined;
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return Number(v);
  return undefined;
}

export function hasTemplate(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('{{') || v.includes('{%');
  if (Array.isArray(v)) return v.some(hasTemplate);
  if (v && typeof v === 'object') return Object.values(v).some(hasTemplate);
  return false;
}

/**
 * Replace plain `{{ name }}` references with the value of another variable of the same host (a string, number or
 * boolean without templates of its own). Anything else (filters, expressions, lookups) is left as it is.
 */
export function resolveTemplates(vars: VarMap): VarMap {
  const lookup = (name: string, seen: string[]): string | undefined => {
    if (seen.includes(name)) return undefined;
    const v = vars[name]?.value;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    if (typeof v !== 'string') return undefined;
    const r = subst(v, [...seen, name]);
    return hasTemplate(r) ? undefined : r;
  };
  const subst = (s: string, seen: string[]): string =>
    s.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (m, n: string) => lookup(n, seen) ?? m);
  const walk = (v: unknown, seen: string[]): unknown => {
    if (typeof v === 'string') return v.includes('{{') ? subst(v, seen) : v;
    if (Array.isArray(v)) return v.map((x) => walk(x, seen));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, seen)]));
    return v;
  };
  const out: VarMap = {};
  for (const [k, s] of Object.entries(vars)) {
    const value = walk(s.value, [k]);
    // A whole-value reference to a number or boolean keeps its type, as Ansible's native types would.
    const whole = typeof s.value === 'string' ? /^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/.exec(s.value.trim()) : null;
    const ref = whole ? vars[whole[1]]?.value : undefined;
    out[k] = { ...s, value: whole && (typeof ref === 'number' || typeof ref === 'boolean') ? ref : value };
  }
  return out;
}

/** Coerce a value to the type of pgha's known variable `name` and check it against the schema's limits. */
export function checkKnown(name: string, value: unknown): Checked {
  const spec = KNOWN_VARS[name];
  if (!spec) return { ok: true, value };
  const shown = showValue(value);
  if (spec.type === 'integer') {
    const n = toInt(value);
    if (n === undefined) return { ok: false, why: `${name} takes a whole number, not "${shown}"` };
    const min = spec.minimum as number | undefined;
    const max = spec.maximum as number | undefined;
    if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
      return {
        ok: false,
        why: `${name} must be ${max !== undefined ? `between ${min} and ${max}` : `at least ${min}`}, not ${n}`,
      };
    }
    return { ok: true, value: n };
  }
  if (spec.type === 'boolean') {
    const b = toBool(value);
    return b === undefined ? { ok: false, why: `${name} takes true or false, not "${shown}"` } : { ok: true, value: b };
  }
  if (spec.type === 'string') {
    if (typeof value !== 'string' && typeof value !== 'number')
      return { ok: false, why: `${name} takes text, not "${shown}"` };
    const s = String(value);
    if (spec.pattern && !new RegExp(spec.pattern as string).test(s))
      return { ok: false, why: `"${shown}" is not a valid ${name} (pattern ${spec.pattern})` };
    return { ok: true, value: s };
  }
  return { ok: true, value };
}

/** Parameters Patroni and pgha set on every member themselves. */
export const MANAGED_PARAMETERS = new Set([
  'listen_addresses',
  'port',
  'data_directory',
  'hba_file',
  'ident_file',
  'config_file',
  'cluster_name',
]);

export interface ParamItem {
  option: string;
  value?: string | number | boolean;
  /** The value as written in Ansible. */
  raw: unknown;
  /** Why the item cannot be taken. */
  why?: string;
}

/** autobase's `[{option: X, value: Y}]` (or a plain map) as parameter items; a number in text becomes a number. */
export function parameterItems(v: unknown): ParamItem[] | undefined {
  let entries: [unknown, unknown][];
  if (Array.isArray(v)) {
    if (!v.every((i) => i && typeof i === 'object' && 'option' in i)) return undefined;
    entries = v.map((i: Record<string, unknown>) => [i.option, i.value]);
  } else if (v && typeof v === 'object') {
    entries = Object.entries(v);
  } else {
    return undefined;
  }
  return entries.map(([o, raw]): ParamItem => {
    const option = String(o);
    if (!/^[a-z_][a-z0-9_.]*$/.test(option)) return { option, raw, why: 'not a PostgreSQL parameter name' };
    if (MANAGED_PARAMETERS.has(option)) return { option, raw, why: 'set by Patroni and pgha on every member' };
    if (hasTemplate(raw)) return { option, raw, why: 'uses a Jinja expression pgha cannot evaluate' };
    if (typeof raw === 'boolean' || typeof raw === 'number') return { option, raw, value: raw };
    if (typeof raw !== 'string') return { option, raw, why: 'a parameter takes text, a number or a boolean' };
    const n = toInt(raw);
    const unquoted = /^'(.*)'$/s.exec(raw.trim());
    return { option, raw, value: n !== undefined && !/^\s*0\d/.test(raw) ? n : unquoted ? unquoted[1] : raw };
  });
}
