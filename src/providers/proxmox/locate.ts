// Where a Proxmox setting comes from in the inventory file, so that problems found against the API name file:line.
import { readFileSync } from 'node:fs';
import { UserError } from '../../util/errors.js';
import { fieldName, lineOf, type Located } from '../../util/yamlfile.js';
import { parseYamlText, type ParsedYaml } from '../../inventory/parse.js';
import type { Inventory } from '../../inventory/types.js';

export interface Locator {
  /** The line of a JSON pointer (or of its nearest parent); undefined when the file cannot be read. */
  line(pointer: string): number | undefined;
  /** Whether the file sets the value at pointer. */
  has(pointer: string): boolean;
  /** The first pointer of the list the file sets, else the last one. */
  first(...pointers: string[]): string;
}

export function locator(inv: Pick<Inventory, 'file'>): Locator {
  let parsed: ParsedYaml | undefined;
  try {
    parsed = parseYamlText(inv.file, readFileSync(inv.file, 'utf8'));
  } catch {
    parsed = undefined; // an inventory built in memory: problems are reported without lines
  }
  const get = (ptr: string) =>
    ptr
      .split('/')
      .slice(1)
      .reduce<unknown>(
        (o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined),
        parsed?.data,
      );
  const has = (ptr: string) => get(ptr) !== undefined && get(ptr) !== null;
  return {
    line: (ptr) => (parsed ? lineOf(parsed.doc, parsed.lines, ptr) : undefined),
    has,
    first: (...ptrs) => ptrs.find(has) ?? ptrs[ptrs.length - 1]!,
  };
}

/** Problems found before any change, each at its inventory line. */
export class Problems {
  readonly list: (Located & { hint?: string })[] = [];
  constructor(private readonly loc: Locator) {}
  add(pointer: string, message: string, hint?: string): void {
    if (this.list.some((p) => p.field === fieldName(pointer) && p.message === message)) return;
    this.list.push({ line: this.loc.line(pointer), field: fieldName(pointer), message, hint });
  }
  /** One UserError listing every problem (file:line: field: message), with the hints of all of them. */
  throwIfAny(file: string): void {
    if (!this.list.length) return;
    const n = this.list.length;
    const lines = this.list.map((e) => `  ${file}:${e.line ?? '?'}: ${e.field}: ${e.message}`).join('\n');
    const hints = [...new Set(this.list.flatMap((e) => (e.hint ? [e.hint] : [])))];
    const first = this.list[0]!;
    throw new UserError(
      `Proxmox checks found ${n} problem${n > 1 ? 's' : ''} before any change (nothing was created):\n${lines}`,
      hints.length ? hints.join('\n') : undefined,
      { file, line: first.line, field: first.field },
    );
  }
}
