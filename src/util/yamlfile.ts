// YAML files validated by a JSON Schema with ajv; every error names file, line and field.
import AjvModule, { type ErrorObject } from 'ajv';

// ajv is CommonJS; under NodeNext its default export is the module object.
const Ajv = AjvModule.default;
type Ajv = InstanceType<typeof Ajv>;
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isPair, isScalar, isSeq, visit, type Document, type Node } from 'yaml';
import { UserError } from './errors.js';
import { nearest } from './nearest.js';

export interface Located {
  line?: number;
  field: string;
  message: string;
}

/** Read a YAML file keeping positions; a key given twice in one map is an error at both lines (`what` names the file). */
export function readYaml(file: string, what = 'YAML file'): { doc: Document; lines: LineCounter; data: unknown } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      'check the path',
      { file },
    );
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const line = lines.linePos(e.pos[0]).line;
    throw new UserError(
      `${file}:${line}: malformed YAML: ${e.message.split('\n')[0]}`,
      'fix the YAML syntax at that line',
      { file, line },
    );
  }
  const dups = dropDuplicateKeys(doc, lines);
  if (dups.length) throwLocated(file, what, dups, 'keep one of the two lines of each key');
  return { doc, lines, data: doc.toJS() };
}

/**
 * Keys given more than once in one map: an error at every line of the key (the first says where the others are,
 * the others where the first is). The first definition stays in the document; the later ones are dropped.
 * `label` words the kind of key from the map's JSON pointer ("host name" under /hosts).
 */
export function dropDuplicateKeys(
  doc: Document,
  lines: LineCounter,
  label: (mapPointer: string) => string = () => 'key',
): Located[] {
  const errors: Located[] = [];
  visit(doc, {
    Map(_key, map, path) {
      const ptr = pointerOf(path, map);
      const seen = new Map<string, (number | undefined)[]>();
      map.items = map.items.filter((pair) => {
        const k = keyText(pair.key);
        const at = seen.get(k);
        const line = (pair.key as Node | null)?.range ? lines.linePos((pair.key as Node).range![0]).line : undefined;
        if (at) at.push(line);
        else seen.set(k, [line]);
        return !at;
      });
      for (const [k, at] of seen) {
        if (at.length < 2) continue;
        const what = label(ptr);
        const field = fieldName(`${ptr}/${k}`);
        const others = at.slice(1).map((l) => l ?? '?');
        errors.push({
          line: at[0],
          field,
          message: `${what} '${k}' is given ${at.length === 2 ? 'twice' : `${at.length} times`} (again at line${others.length > 1 ? 's' : ''} ${others.join(', ')})`,
        });
        at.slice(1).forEach((l, i) => {
          const between = others.slice(0, i);
          const also = between.length ? `, again at line${between.length > 1 ? 's' : ''} ${between.join(', ')}` : '';
          errors.push({ line: l, field, message: `duplicate ${what} '${k}' (first at line ${at[0] ?? '?'}${also})` });
        });
      }
    },
  });
  return errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

/** JSON pointer of a node from the ancestor path that yaml's visit() gives (Document, Map, Pair, Map, Pair, ...). */
function pointerOf(path: readonly unknown[], node: unknown): string {
  const chain = [...path, node];
  const parts: string[] = [];
  for (let i = 1; i < chain.length; i++) {
    const parent = chain[i - 1];
    const cur = chain[i];
    if (isSeq(parent)) parts.push(String(parent.items.indexOf(cur as never)));
    else if (isPair(parent) && parent.value === cur) parts.push(keyText(parent.key));
  }
  return parts.map((x) => `/${x.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

function keyText(k: unknown): string {
  return isScalar(k) ? String(k.value) : String(k);
}

/** The line of the node at a JSON pointer path ("/plays/0/hosts"), or of its nearest existing parent. */
export function lineOf(doc: Document, lines: LineCounter, pointer: string, key = false): number | undefined {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: Node | null | undefined = doc.contents as Node;
  let best = node?.range ? lines.linePos(node.range[0]).line : undefined;
  for (const p of parts) {
    if (isMap(node)) {
      const pair = node.items.find((it) => String((it.key as { value?: unknown })?.value ?? it.key) === p);
      if (!pair) break;
      const k = pair.key as Node;
      if (k?.range) best = lines.linePos(k.range[0]).line;
      node = pair.value as Node;
      if (!key && node?.range) best = lines.linePos(node.range[0]).line;
    } else if (isSeq(node)) {
      node = node.items[Number(p)] as Node;
      if (node?.range) best = lines.linePos(node.range[0]).line;
    } else break;
  }
  return best;
}

export function fieldName(pointer: string): string {
  return pointer.split('/').slice(1).join('.') || '(top level)';
}

/** Turn ajv errors into located messages (unknown keys get a suggestion). */
export function locateAjvErrors(errors: ErrorObject[], doc: Document, lines: LineCounter): Located[] {
  const out: Located[] = [];
  const seen = new Set<string>();
  const typoAt = new Set(errors.filter((e) => e.keyword === 'additionalProperties').map((e) => e.instancePath));
  const alternatives = new Map<string, string[]>();
  for (const e of errors) {
    // "one of these keys" alternatives: one message per object, none when a typo at the same place explains it.
    if (e.keyword === 'required' && /\/(oneOf|anyOf)\/\d+\/required$/.test(e.schemaPath)) {
      if (!typoAt.has(e.instancePath))
        alternatives.set(e.instancePath, [
          ...(alternatives.get(e.instancePath) ?? []),
          (e.params as { missingProperty: string }).missingProperty,
        ]);
      continue;
    }
    let located: Located;
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      const ptr = `${e.instancePath}/${extra}`;
      const allowed = Object.keys((e.parentSchema as { properties?: Record<string, unknown> })?.properties ?? {});
      const near = nearest(extra, allowed);
      located = {
        line: lineOf(doc, lines, ptr, true),
        field: fieldName(ptr),
        message: `unknown key '${extra}'${near ? `: did you mean '${near}'?` : allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`,
      };
    } else if (e.keyword === 'required') {
      const miss = (e.params as { missingProperty: string }).missingProperty;
      located = {
        line: lineOf(doc, lines, e.instancePath, true),
        field: fieldName(`${e.instancePath}/${miss}`),
        message: `'${miss}' is required`,
      };
    } else if (e.keyword === 'enum') {
      located = {
        line: lineOf(doc, lines, e.instancePath),
        field: fieldName(e.instancePath),
        message: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`,
      };
    } else if (e.keyword === 'oneOf' && (e.params as { passingSchemas?: number[] | null }).passingSchemas) {
      const branches = (e.schema as { required?: string[] }[]).map((b) => b.required?.[0]).filter(Boolean);
      located = {
        line: lineOf(doc, lines, e.instancePath),
        field: fieldName(e.instancePath),
        message: `has more than one of ${branches.map((k) => `'${k}'`).join(', ')}: keep one`,
      };
    } else if (e.keyword === 'if' || e.keyword === 'anyOf' || e.keyword === 'oneOf') {
      continue; // the branch errors say more
    } else {
      located = {
        line: lineOf(doc, lines, e.instancePath),
        field: fieldName(e.instancePath),
        message: e.message ?? e.keyword,
      };
    }
    const k = `${located.field}|${located.message}`;
    if (!seen.has(k)) {
      out.push(located);
      seen.add(k);
    }
  }
  for (const [ptr, keys] of alternatives) {
    out.push({
      line: lineOf(doc, lines, ptr, true),
      field: fieldName(ptr),
      message: `needs exactly one of ${keys.map((k) => `'${k}'`).join(', ')}`,
    });
  }
  return out;
}

export function throwLocated(file: string, what: string, errs: Located[], hint: string): never {
  const first = errs[0];
  const list = errs.map((e) => `  ${file}:${e.line ?? '?'}: ${e.field}: ${e.message}`).join('\n');
  throw new UserError(`${what} ${file} has ${errs.length} error${errs.length > 1 ? 's' : ''}:\n${list}`, hint, {
    file,
    line: first?.line,
    field: first?.field,
  });
}

/** Without code optimisation: each schema is validated against once or a few times per run, so compiling dominates. */
export function makeAjv(): Ajv {
  return new Ajv({ allErrors: true, strict: false, useDefaults: false, verbose: true, code: { optimize: false } });
}
