// YAML input: variable files (group_vars/, host_vars/) and Ansible's YAML inventory format
// (all: {hosts, vars, children: {group: {...}}}), each value with the file and line it came from.
import { LineCounter, isMap, isScalar, parseDocument, type Document, type Node, type Pair, type YAMLMap } from 'yaml';
import { UserError } from '../../util/errors.js';
import { expandHostPattern } from './ini.js';
import { addHost, rawGroup, VAULT, type RawInventory, type VarMap } from './types.js';

const TAGS = [
  { tag: '!vault', resolve: () => VAULT },
  { tag: '!unsafe', resolve: (s: string) => s },
];

function parse(text: string, name: string): { doc: Document; lines: LineCounter } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, customTags: TAGS, uniqueKeys: false });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const line = lines.linePos(e.pos[0]).line;
    throw new UserError(
      `${name}:${line}: malformed YAML: ${e.message.split('\n')[0]}`,
      'fix the YAML syntax at that line',
      { file: name, line },
    );
  }
  return { doc, lines };
}

function lineOfPair(p: Pair, lines: LineCounter): number | undefined {
  const key = p.key as Node | null;
  return key?.range ? lines.linePos(key.range[0]).line : undefined;
}

function keyText(p: Pair): string {
  const k = p.key as Node | null;
  return String(isScalar(k) ? k.value : k);
}

function mapVars(map: YAMLMap | undefined, doc: Document, lines: LineCounter, name: string): VarMap {
  const out: VarMap = {};
  for (const p of map?.items ?? []) {
    const line = lineOfPair(p, lines);
    const value: unknown = p.value ? (p.value as Node).toJS(doc) : null;
    out[keyText(p)] = { value: value === undefined ? null : value, where: line ? `${name}:${line}` : name };
  }
  return out;
}

/** The variables of a group_vars/ or host_vars/ file (a map at the top, or empty). */
export function readVarsYaml(text: string, name: string): VarMap {
  if (text.trimStart().startsWith('$ANSIBLE_VAULT')) return { '(whole file)': { value: VAULT, where: name } };
  const { doc, lines } = parse(text, name);
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return {};
  if (!isMap(doc.contents))
    throw new UserError(`${name}: a variables file must hold a map of variables`, 'write one "name: value" per line', {
      file: name,
    });
  return mapVars(doc.contents, doc, lines, name);
}

/** Parse Ansible's YAML inventory format. */
export function parseYamlInventory(text: string, name: string): RawInventory {
  const { doc, lines } = parse(text, name);
  const inv: RawInventory = { groups: new Map(), hostOrder: [] };
  rawGroup(inv, 'all', `${name}:1`);
  rawGroup(inv, 'ungrouped', `${name}:1`);
  if (doc.contents === null) return inv;
  if (!isMap(doc.contents))
    throw new UserError(
      `${name}: a YAML inventory is a map of groups (all: {hosts, vars, children})`,
      'start it with "all:"',
      { file: name },
    );
  const fail = (line: number | undefined, message: string): never => {
    throw new UserError(`${name}:${line ?? '?'}: ${message}`, 'a group has only hosts, vars and children', {
      file: name,
      line,
    });
  };
  const group = (gname: string, node: unknown, line: number | undefined) => {
    const where = line ? `${name}:${line}` : name;
    rawGroup(inv, gname, where);
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return;
    if (!isMap(node)) fail(line, `group ${gname} must be a map`);
    for (const p of (node as YAMLMap).items) {
      const k = keyText(p);
      const pl = lineOfPair(p, lines);
      const v = p.value as Node | null;
      const empty = v === null || (isScalar(v) && v.value === null);
      if (k === 'hosts') {
        if (empty) continue;
        if (!isMap(v)) fail(pl, `hosts of group ${gname} must be a map of host names`);
        for (const hp of (v as YAMLMap).items) {
          const hl = lineOfPair(hp, lines);
          const hv = hp.value as Node | null;
          const hempty = hv === null || (isScalar(hv) && hv.value === null);
          if (!hempty && !isMap(hv)) fail(hl, `host ${keyText(hp)} must have a map of variables (or nothing)`);
          const vars = hempty ? {} : mapVars(hv as YAMLMap, doc, lines, name);
          let names: string[];
          try {
            names = expandHostPattern(keyText(hp));
          } catch (e) {
            return fail(hl, (e as Error).message);
          }
          for (const h of names) addHost(inv, gname, h, vars, hl ? `${name}:${hl}` : name);
        }
      } else if (k === 'vars') {
        if (empty) continue;
        if (!isMap(v)) fail(pl, `vars of group ${gname} must be a map`);
        Object.assign(rawGroup(inv, gname, where).vars, mapVars(v as YAMLMap, doc, lines, name));
      } else if (k === 'children') {
        if (empty) continue;
        if (!isMap(v)) fail(pl, `children of group ${gname} must be a map of groups`);
        for (const cp of (v as YAMLMap).items) {
          const child = keyText(cp);
          rawGroup(inv, gname, where).children.add(child);
          group(child, cp.value, lineOfPair(cp, lines));
        }
      } else {
        fail(pl, `unknown key "${k}" in group ${gname}`);
      }
    }
  };
  for (const p of doc.contents.items) group(keyText(p), p.value, lineOfPair(p, lines));
  return inv;
}
