// How a component declares its inventory variables, once: name, type, default, range or pattern, doc line and
// level. From the declaration come the inventory schema and checks (through the registry's Catalog), the
// defaults, and a typed reader of one host's values.
import type { Host, Inventory } from '../inventory/types.js';
import type {
  BoolSetting,
  IntSetting,
  ListSetting,
  MapSetting,
  MapValue,
  SettingDecl,
  StringSetting,
  VarRule,
} from '../inventory/catalog.js';
import { UserError } from '../util/errors.js';

/** A declaration entry: the catalog's form of one variable. */
type Entry = IntSetting | StringSetting | BoolSetting | MapSetting | ListSetting;

const JS_TYPE = { int: 'number', string: 'string', bool: 'boolean', map: 'object', list: 'object' } as const;

type ValueOf<E extends Entry> = E extends { type: 'list' }
  ? readonly Record<string, unknown>[]
  : E extends IntSetting
    ? number
    : E extends StringSetting
      ? string
      : E extends BoolSetting
        ? boolean
        : Record<string, MapValue>;

/** The typed values of a declaration, keyed like the declaration (camelCase names for the code). */
export type Values<T extends Record<string, Entry>> = { [K in keyof T]: ValueOf<T[K]> };

export interface RuleSpec<T extends Record<string, Entry>> {
  /** The settings the rule reads. */
  uses: readonly (keyof T & string)[];
  /** Hosts it applies to (every host when absent). */
  roles?: readonly string[];
  /** A message when the values break the rule. */
  check(s: Values<T>): string | undefined;
}

export interface DeclaredSettings<T extends Record<string, Entry>> {
  readonly decls: T;
  /** The catalog's form: one entry per variable, in declaration order. */
  readonly list: readonly SettingDecl[];
  readonly rules: readonly VarRule[];
  /** The defaults, keyed by variable name. */
  readonly defaults: Record<string, unknown>;
  /** One host's values (vars over defaults), validated: a UserError names the variable and the host. */
  read(inv: Pick<Inventory, 'file'>, host: Host): Values<T>;
}

function bad(inv: Pick<Inventory, 'file'>, host: Host, key: string, expected: string, got: unknown): UserError {
  return new UserError(
    `variable ${key} on host ${host.name} must be ${expected}, got ${JSON.stringify(got)}`,
    `fix vars.${key} in the inventory`,
    { file: inv.file, field: `vars.${key}` },
  );
}

/** The value if it has the declared type and range, else the reason. */
function check(
  d: Entry,
  v: unknown,
): { ok: true; value: unknown } | { ok: false; expected: string; key?: string; got?: unknown } {
  switch (d.type) {
    case 'int': {
      const [min, max] = [d.min ?? 0, d.max ?? Number.MAX_SAFE_INTEGER];
      const ok = typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
      return ok ? { ok, value: v } : { ok: false, expected: `an integer ${min}..${max}` };
    }
    case 'string': {
      const re = new RegExp(d.pattern);
      return typeof v === 'string' && re.test(v)
        ? { ok: true, value: v }
        : { ok: false, expected: `a string matching ${re}` };
    }
    case 'bool':
      return typeof v === 'boolean' ? { ok: true, value: v } : { ok: false, expected: 'true or false' };
    case 'map': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return { ok: false, expected: 'a map' };
      const out: Record<string, MapValue> = { ...d.default };
      const keyRe = new RegExp(d.keyPattern);
      for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
        if (!keyRe.test(k)) return { ok: false, expected: 'a parameter name', key: `${d.name}.${k}`, got: k };
        if (typeof val !== 'string' && typeof val !== 'number' && typeof val !== 'boolean') {
          return { ok: false, expected: 'a string, number or boolean', key: `${d.name}.${k}`, got: val };
        }
        out[k] = val;
      }
      // Stable order: rendered configs and request bodies must not change between runs.
      return { ok: true, value: Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b))) };
    }
    case 'list': {
      // The entries' form is the schema's to check (at load, with the line); here only the shape.
      const ok = Array.isArray(v) && v.every((e) => typeof e === 'object' && e !== null && !Array.isArray(e));
      return ok ? { ok, value: v } : { ok: false, expected: 'a list of maps' };
    }
  }
}

/**
 * Values from host vars over the defaults (a map merges over its default). Without `onBad` (rules at load,
 * where the schema reports bad values) a value of the wrong JavaScript type counts as its default.
 */
function values<T extends Record<string, Entry>>(
  decls: T,
  vars: Record<string, unknown>,
  onBad?: (key: string, expected: string, got: unknown) => never,
): Values<T> {
  const out: Record<string, unknown> = {};
  for (const [k, d] of Object.entries(decls)) {
    const v = vars[d.name] ?? (d.type === 'map' ? {} : d.default);
    const r = check(d, v);
    if (r.ok) out[k] = r.value;
    else if (onBad) onBad(r.key ?? d.name, r.expected, r.key ? r.got : v);
    else out[k] = typeof v === JS_TYPE[d.type] && d.type !== 'map' && d.type !== 'list' ? v : d.default;
  }
  return out as Values<T>;
}

/** Declare a component's variables (and its rules across them). */
export function defineSettings<const T extends Record<string, Entry>>(
  decls: T,
  rules: readonly RuleSpec<T>[] = [],
): DeclaredSettings<T> {
  const list = Object.values(decls);
  const catalogRules: VarRule[] = rules.map((r) => ({
    vars: r.uses.map((k) => decls[k]!.name),
    ...(r.roles ? { roles: r.roles } : {}),
    check: (vars) => r.check(values(decls, vars)),
  }));
  return {
    decls,
    list,
    rules: catalogRules,
    defaults: Object.fromEntries(list.map((d) => [d.name, d.default])),
    read(inv, host) {
      const s = values(decls, host.vars, (key, expected, got) => {
        throw bad(inv, host, key, expected, got);
      });
      for (const r of rules) {
        const msg = r.check(s);
        if (msg)
          throw new UserError(msg, `fix vars.${decls[r.uses[0]!]!.name} in the inventory`, {
            file: inv.file,
            field: `vars.${decls[r.uses[0]!]!.name}`,
          });
      }
      return s;
    },
  };
}
