import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { UserError } from '../../src/util/errors.js';
import { loadInventory, type LoadOptions } from '../../src/inventory/load.js';
import { catalog } from '../../src/components/index.js';
import type { Inventory } from '../../src/inventory/types.js';

const dir = mkdtempSync(join(tmpdir(), 'pgha-inv-'));
let n = 0;

/** Write YAML text to a fresh file in a temp folder; returns its path. */
export function writeInventory(text: string, name = `inv${++n}.yml`): string {
  const sub = join(dir, String(++n));
  mkdirSync(sub);
  const file = join(sub, name);
  writeFileSync(file, text);
  return file;
}

export function load(text: string, opts?: LoadOptions): Inventory {
  return loadInventory(writeInventory(text), catalog, opts);
}

/** Load text that must fail; returns the UserError. */
export function loadError(text: string, opts?: LoadOptions): UserError & { file: string } {
  const file = writeInventory(text);
  try {
    loadInventory(file, catalog, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).exitCode).toBe(2);
    return Object.assign(e as UserError, { file });
  }
  throw new Error('expected the inventory to be rejected');
}

/** The error lines of a UserError message: "file:line: field: message". */
export function errorLines(e: Error & { file?: string }): { line: number; field: string; message: string }[] {
  return e.message
    .split('\n')
    .slice(1)
    .map((l) => /^ {2}(.+?):(\d+|\?): (\S+): (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => {
      if (e.file) expect(m[1]).toBe(e.file);
      return { line: Number(m[2]), field: m[3], message: m[4] };
    });
}

/** A valid base inventory; tests change one thing. */
export const BASE = `cluster: demo
provider: lab
network:
  subnet: 10.77.0.0/24
  vip: 10.77.0.100
hosts:
  lb1: {address: 10.77.0.21, roles: [haproxy]}
  lb2: {address: 10.77.0.22, roles: [haproxy]}
  pg1: {address: 10.77.0.11, roles: [postgres, etcd]}
  pg2: {address: 10.77.0.12, roles: [postgres, etcd]}
  pg3: {address: 10.77.0.13, roles: [postgres, etcd]}
`;
