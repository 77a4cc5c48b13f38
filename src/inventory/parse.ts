// Reading an inventory file: YAML with positions, duplicate keys found (not fatal), schema errors located and worded.
import type { ErrorObject, ValidateFunction } from 'ajv';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { dropDuplicateKeys, fieldName, lineOf, locateAjvErrors, makeAjv, type Located } from '../util/yamlfile.js';
import { nearest } from '../util/nearest.js';
import { UserError } from '../util/errors.js';
import addFormatsModule from 'ajv-formats';
import { CLUSTER_PATTERN, HOSTNAME_PATTERN, JUMP_PATTERN, inventorySchema } from './schema.js';
import { roleNames, type Catalog } from './catalog.js';

// ajv-formats is CommonJS; under NodeNext its default export is the module object.
const addFormats = addFormatsModule.default;

export interface ParsedYaml {
  file: string;
  doc: Document;
  lines: LineCounter;
  data: unknown;
  /** Problems found while reading (duplicate keys); YAML syntax errors throw instead. */
  errors: Located[];
}

/** Parse YAML text keeping positions. Syntax errors throw one UserError listing all of them. */
export function parseYamlText(file: string, text: string): ParsedYaml {
  const lines = new LineCounter();
  // uniqueKeys off: duplicates are found below, with their path, so "duplicate host name" can be said plainly.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false, merge: true });
  if (doc.errors.length) {
    const list = doc.errors.map((e) => `  ${file}:${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`);
    const line = lines.linePos(doc.errors[0].pos[0]).line;
    throw new UserError(
      `inventory ${file} is not valid YAML:\n${list.join('\n')}`,
      'fix the YAML syntax at that line',
      { file, line },
    );
  }
  const errors = dropDuplicateKeys(doc, lines, (ptr) =>
    ptr === '/hosts' ? 'host name' : ptr === '/groups' ? 'group name' : 'key',
  );
  return { file, doc, lines, data: doc.toJS({ maxAliasCount: 1000 }), errors };
}

const ajv = makeAjv();
addFormats(ajv, ['ipv4']);
const compiled = new WeakMap<Catalog, ValidateFunction>();

/** The schema validator for a catalog (compiled once per catalog). */
function validatorFor(c: Catalog): ValidateFunction {
  let v = compiled.get(c);
  if (!v) compiled.set(c, (v = ajv.compile(inventorySchema(c))));
  return v;
}

function valueAt(data: unknown, pointer: string): unknown {
  let cur = data;
  for (const p of pointer.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}

function show(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return `${typeof v} ${JSON.stringify(v)}`;
}

const NAME_RULE = 'lowercase letters, digits and dashes, starting with a letter';

/** Schema errors, worded for people; unknown keys and enum values get a "did you mean". */
export function schemaErrors(p: ParsedYaml, c: Catalog): Located[] {
  const validate = validatorFor(c);
  if (validate(p.data)) return [];
  const rest: ErrorObject[] = [];
  const out: Located[] = [];
  const at = (ptr: string, key = false) => lineOf(p.doc, p.lines, ptr, key);
  for (const e of validate.errors ?? []) {
    const ptr = e.instancePath;
    const value = valueAt(p.data, ptr);
    const desc = (e.parentSchema as { description?: string } | undefined)?.description;
    if (e.propertyName !== undefined) continue; // inner error of propertyNames, reported below
    if (e.keyword === 'propertyNames') {
      const name = (e.params as { propertyName: string }).propertyName;
      const what = ptr === '/hosts' ? 'host name' : 'group name';
      out.push({
        line: at(`${ptr}/${name}`, true),
        field: fieldName(`${ptr}/${name}`),
        message: `${what} '${name}' is not valid: use ${NAME_RULE}`,
      });
    } else if (e.keyword === 'not' && ptr.endsWith('/token_secret')) {
      out.push({
        line: at(ptr, true),
        field: fieldName(ptr),
        message:
          'the API token secret may not be written in the inventory: remove token_secret and export the secret in the environment variable named by token_secret_env (default PGHA_PVE_TOKEN_SECRET)',
      });
    } else if (e.keyword === 'type') {
      const want = ([] as string[]).concat((e.params as { type: string | string[] }).type).filter((t) => t !== 'null');
      out.push({
        line: at(ptr),
        field: fieldName(ptr),
        message: `expected ${want.map((t) => (t === 'object' ? 'a map' : t === 'array' ? 'a list' : t === 'integer' ? 'an integer' : `a ${t}`)).join(' or ')}, got ${show(value)}`,
      });
    } else if (e.keyword === 'format') {
      out.push({
        line: at(ptr),
        field: fieldName(ptr),
        message: `'${String(value)}' is not an IPv4 address (expected a dotted quad like 10.77.0.11)`,
      });
    } else if (e.keyword === 'pattern') {
      const pat = (e.params as { pattern: string }).pattern;
      const rule =
        pat === JUMP_PATTERN
          ? 'use the name of an inventory host, [user@]host[:port] of a bastion, or none'
          : pat === HOSTNAME_PATTERN || pat === CLUSTER_PATTERN
            ? `use ${NAME_RULE}${pat === CLUSTER_PATTERN ? ', at most 32 characters' : ''}`
            : (desc ?? `must match ${pat}`);
      out.push({ line: at(ptr), field: fieldName(ptr), message: `'${String(value)}' is not valid: ${rule}` });
    } else if (e.keyword === 'enum' && typeof value === 'string') {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map(String);
      const near = nearest(value, allowed);
      out.push({
        line: at(ptr),
        field: fieldName(ptr),
        message: `'${value}' is not one of ${allowed.join(', ')}${near ? `: did you mean '${near}'?` : ''}`,
      });
    } else if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      const props =
        (e.parentSchema as { properties?: Record<string, { properties?: Record<string, unknown> }> }).properties ?? {};
      // A key that belongs one level down (port on a host instead of ssh.port), else the nearest name.
      const nested = Object.entries(props).find(([, sub]) => sub?.properties && extra in sub.properties)?.[0];
      const near = nested ? undefined : nearest(extra, Object.keys(props));
      const hint = nested
        ? `: did you mean '${nested}: {${extra}: ...}'?`
        : near
          ? `: did you mean '${near}'?`
          : ` (allowed: ${Object.keys(props).join(', ')})`;
      out.push({
        line: at(`${ptr}/${extra}`, true),
        field: fieldName(`${ptr}/${extra}`),
        message: `unknown key '${extra}'${hint}`,
      });
    } else if (e.keyword === 'minProperties' && ptr === '/hosts') {
      out.push({ line: at(ptr, true), field: 'hosts', message: 'no hosts: list at least one host' });
    } else if (e.keyword === 'uniqueItems') {
      const { i, j } = e.params as { i: number; j: number };
      out.push({
        line: at(`${ptr}/${i}`),
        field: fieldName(ptr),
        message: `'${String((value as unknown[])[i])}' is listed twice (items ${j + 1} and ${i + 1})`,
      });
    } else if (e.keyword === 'minItems' && ptr.endsWith('/roles')) {
      out.push({
        line: at(ptr),
        field: fieldName(ptr),
        message: `a host needs at least one role (${roleNames(c).join(', ')})`,
      });
    } else if (['minimum', 'maximum', 'minLength', 'maxLength'].includes(e.keyword)) {
      out.push({
        line: at(ptr),
        field: fieldName(ptr),
        message: `${JSON.stringify(value)}: ${e.message}${desc ? ` (${desc})` : ''}`,
      });
    } else rest.push(e);
  }
  return [...out, ...locateAjvErrors(rest, p.doc, p.lines)];
}
