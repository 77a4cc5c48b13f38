// Templates are handlebars files; rendering is strict, so a missing variable is an error that names the
// template, the line and the variable instead of an empty string in a config file.
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.js';

/** The package root (where package.json is), found from this file in src/ or dist/src/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
}

export const TEMPLATES_DIR = join(packageRoot(), 'templates');

type Handlebars = typeof import('handlebars');
let handlebars: Handlebars | undefined;

/** The handlebars environment with pgha's helpers, loaded on the first template (commands that render none skip it). */
function engine(): Handlebars {
  if (handlebars) return handlebars;
  const hb = (createRequire(import.meta.url)('handlebars') as Handlebars).create();
  hb.registerHelper('json', (v: unknown) => new hb.SafeString(JSON.stringify(v)));
  hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  hb.registerHelper('join', (arr: unknown, sep: unknown) =>
    Array.isArray(arr) ? arr.join(typeof sep === 'string' ? sep : ',') : '',
  );
  hb.registerHelper('default', (v: unknown, d: unknown) => (v === undefined || v === null || v === '' ? d : v));
  return (handlebars = hb);
}

const cache = new Map<string, HandlebarsTemplateDelegate>();

/** Render a template by path: relative names are looked up in `searchDirs` (default: the package's templates/). */
export function renderTemplate(
  name: string,
  vars: Record<string, unknown>,
  searchDirs: string[] = [TEMPLATES_DIR],
): string {
  const file = isAbsolute(name) ? name : searchDirs.map((d) => resolve(d, name)).find((f) => existsSync(f));
  if (!file || !existsSync(file)) {
    throw new UserError(`template ${name} not found`, `looked in ${searchDirs.join(', ')}`, { file: name });
  }
  let tpl = cache.get(file);
  if (!tpl) {
    const src = readFileSync(file, 'utf8');
    try {
      tpl = engine().compile(src, { strict: true, noEscape: true });
      tpl({}, {}); // force the parse now, so syntax errors surface here with their line
    } catch (e) {
      const msg = (e as Error).message;
      if (/Parse error|Expecting|Unclosed|doesn't match/i.test(msg)) throw templateError(file, msg);
      // strict-mode "not defined" on empty input is expected; parsing succeeded
    }
    cache.set(file, tpl!);
  }
  try {
    return tpl!(vars);
  } catch (e) {
    throw templateError(file, (e as Error).message);
  }
}

function templateError(file: string, msg: string): UserError {
  const line = /line (\d+)/.exec(msg)?.[1] ?? /- (\d+):\d+/.exec(msg)?.[1];
  const missing = /"([^"]+)" not defined/.exec(msg)?.[1];
  const what = missing ? `variable "${missing}" is not defined` : msg.split('\n')[0];
  return new UserError(
    `template ${file}${line ? ` line ${line}` : ''}: ${what}`,
    missing
      ? `define "${missing}" (inventory vars or the step that renders it) or remove it from the template`
      : 'fix the template syntax',
    { file, line: line ? Number(line) : undefined, field: missing },
  );
}
