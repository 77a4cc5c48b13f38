// Ansible's INI inventory dialect: [group] host lines with inline key=value vars, [group:children], [group:vars],
// comments (# anywhere unquoted, ; at the start of a line), host ranges (pg[1:3], db-[a:c], 10.0.0.[11:13]).
import { UserError } from '../../util/errors.js';
import { addHost, rawGroup, type RawInventory, type VarMap } from './types.js';

/** Split a line into words: whitespace separates, quotes group (and are kept), an unquoted # ends the line. */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let quote: string | undefined;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      cur += c;
      if (c === '\\' && i + 1 < line.length) cur += line[++i];
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '#') break;
    if (/\s/.test(c)) {
      if (started) words.push(cur);
      cur = '';
      started = false;
      continue;
    }
    if (c === '"' || c === "'") quote = c;
    cur += c;
    started = true;
  }
  if (quote) throw new Error(`unterminated ${quote} quote`);
  if (started) words.push(cur);
  return words;
}

/** An INI value as Ansible reads it: quoted text is a string, numbers and True/False/None are literals, the rest text. */
export function parseValue(text: string): unknown {
  const t = text.trim();
  const q = /^(['"])(.*)\1$/s.exec(t);
  if (q) return q[2].replace(/\\(['"\\])/g, '$1');
  if (/^-?\d+$/.test(t)) return Number(t);
  if (/^-?(\d+\.\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Number(t);
  if (t === 'True') return true;
  if (t === 'False') return false;
  if (t === 'None') return null;
  return t;
}

/** Expand host ranges: pg[1:3] -> pg1 pg2 pg3, db[01:10:2] keeps the zero padding, x[a:c] -> xa xb xc. */
export function expandHostPattern(pattern: string): string[] {
  const m = /^(.*?)\[([^\]:]+):([^\]:]+)(?::(\d+))?\](.*)$/.exec(pattern);
  if (!m) return [pattern];
  const [, head, from, to, strideText, tail] = m;
  const stride = strideText ? Number(strideText) : 1;
  if (stride < 1) throw new Error(`range step in ${pattern} must be at least 1`);
  const items: string[] = [];
  if (/^\d+$/.test(from) && /^\d+$/.test(to)) {
    const width = from.length > 1 && from.startsWith('0') ? from.length : 0;
    const [a, b] = [Number(from), Number(to)];
    if (b < a) throw new Error(`range ${from}:${to} in ${pattern} runs backwards`);
    for (let i = a; i <= b; i += stride) items.push(String(i).padStart(width, '0'));
  } else if (/^[a-zA-Z]$/.test(from) && /^[a-zA-Z]$/.test(to)) {
    const [a, b] = [from.charCodeAt(0), to.charCodeAt(0)];
    if (b < a) throw new Error(`range ${from}:${to} in ${pattern} runs backwards`);
    for (let i = a; i <= b; i += stride) items.push(String.fromCharCode(i));
  } else {
    throw new Error(`range [${from}:${to}] in ${pattern} is neither numeric nor single letters`);
  }
  return items.flatMap((i) => expandHostPattern(`${head}${i}${tail}`));
}

/** The value of a :vars line: a quoted value up to its closing quote, else the text up to an unquoted " #". */
function varsValue(text: string): string {
  const t = text.trim();
  if (t.startsWith('"') || t.startsWith("'")) {
    const words = splitWords(t);
    return words[0] ?? '';
  }
  return t.replace(/(^|\s+)#.*$/, '');
}

/** Read key=value words (the rest of a host line, or one line of a :vars section). */
function keyValues(words: string[], where: string): VarMap {
  const out: VarMap = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new Error(`expected key=value, got "${w}"`);
    out[w.slice(0, eq)] = { value: parseValue(w.slice(eq + 1)), where };
  }
  return out;
}

/** Parse INI inventory text. `name` is the file name used in `where` (e.g. "inventory"). */
export function parseIni(text: string, name: string): RawInventory {
  const inv: RawInventory = { groups: new Map(), hostOrder: [] };
  rawGroup(inv, 'all', `${name}:1`);
  rawGroup(inv, 'ungrouped', `${name}:1`);
  let group = 'ungrouped';
  let kind: 'hosts' | 'children' | 'vars' = 'hosts';
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const where = `${name}:${i + 1}`;
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const fail = (message: string, hint = 'fix that line of the Ansible inventory'): never => {
      throw new UserError(`${where}: ${message}`, hint, { file: name, line: i + 1 });
    };
    try {
      const section = /^\[([^\]\s:]+)(?::(\w+))?\]\s*([#;].*)?$/.exec(line);
      if (section) {
        const [, g, suffix] = section;
        if (suffix !== undefined && suffix !== 'children' && suffix !== 'vars')
          fail(`unknown section type :${suffix}`, 'use [group], [group:children] or [group:vars]');
        group = g;
        kind = (suffix as 'children' | 'vars' | undefined) ?? 'hosts';
        rawGroup(inv, g, where);
        return;
      }
      if (line.startsWith('[')) fail(`malformed section header ${line}`);
      if (kind === 'vars') {
        const eq = line.indexOf('=');
        if (eq <= 0) fail(`expected key=value in [${group}:vars], got "${line}"`);
        const key = line.slice(0, eq).trim();
        rawGroup(inv, group, where).vars[key] = { value: parseValue(varsValue(line.slice(eq + 1))), where };
        return;
      }
      const words = splitWords(line);
      if (!words.length) return;
      if (kind === 'children') {
        if (words.length > 1) fail(`a [${group}:children] line names one group, got "${line}"`);
        rawGroup(inv, words[0], where);
        rawGroup(inv, group, where).children.add(words[0]);
        return;
      }
      const [pattern, ...rest] = words;
      const vars = keyValues(rest, where);
      let hostPattern = pattern;
      const port = /^([^:[\]]+|[^:]*\[[^\]]*\][^:]*):(\d+)$/.exec(pattern);
      if (port) {
        hostPattern = port[1];
        vars.ansible_port = { value: Number(port[2]), where };
      }
      for (const h of expandHostPattern(hostPattern)) addHost(inv, group, h, vars, where);
    } catch (e) {
      if (e instanceof UserError) throw e;
      fail((e as Error).message);
    }
  });
  return inv;
}
