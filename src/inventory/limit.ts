// --limit: which hosts a run touches. Comma-separated host names and groups (roles are groups; `all` is every host);
// a word starting with ! removes hosts. Only exclusions means: every host except those.
import { UserError } from '../util/errors.js';
import { nearest } from '../util/nearest.js';
import type { Host, Inventory } from './types.js';

export function resolveLimit(inv: Inventory, expr: string): Host[] {
  return selectHosts(inv, expr, { what: '--limit' });
}

/** Hosts named by a selector (as for --limit); `what` says where the selector came from, for errors. */
export function selectHosts(inv: Inventory, expr: string, opts: { what: string; allowEmpty?: boolean }): Host[] {
  const words = expr
    .split(',')
    .map((w) => w.trim())
    .filter(Boolean);
  if (!words.length)
    throw new UserError(`${opts.what} is empty`, 'give host or group names, comma-separated, e.g. pg1,haproxy');
  const known = [...Object.keys(inv.groups), ...inv.hosts.map((h) => h.name)];
  const namesOf = (word: string): string[] => {
    if (inv.groups[word]) return inv.groups[word];
    if (inv.hosts.some((h) => h.name === word)) return [word];
    const near = nearest(word, known);
    throw new UserError(
      `${opts.what}: no host or group named '${word}' in ${inv.file}${near ? `: did you mean '${near}'?` : ''}`,
      `hosts: ${inv.hosts.map((h) => h.name).join(', ')}; groups: ${Object.keys(inv.groups).join(', ')}`,
      { file: inv.file, field: 'limit' },
    );
  };
  const include = words.filter((w) => !w.startsWith('!'));
  const chosen = new Set(include.length ? include.flatMap(namesOf) : inv.hosts.map((h) => h.name));
  for (const w of words.filter((x) => x.startsWith('!'))) for (const n of namesOf(w.slice(1))) chosen.delete(n);
  const hosts = inv.hosts.filter((h) => chosen.has(h.name));
  if (!hosts.length && !opts.allowEmpty)
    throw new UserError(`${opts.what} ${expr} selects no host`, 'check the names and the ! exclusions', {
      file: inv.file,
      field: 'limit',
    });
  return hosts;
}

/** The hosts a provider acts on: those chosen by --limit (inventory.limit), or every host when none was given. */
export function limitedHosts(inv: Inventory): Host[] {
  const chosen = inv.limit;
  return chosen ? inv.hosts.filter((h) => chosen.includes(h.name)) : inv.hosts;
}

/** Whether --limit (inventory.limit) includes this host name; true when no limit was given. */
export function inLimit(inv: Inventory, name: string): boolean {
  return !inv.limit || inv.limit.includes(name);
}
