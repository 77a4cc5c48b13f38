// Hosts taken out with pgha remove but still in the inventory file: skipped, with a warning, until deleted there.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recordRemoved, skipRemoved } from '../../src/inventory/removed.js';
import { sidecarPath } from '../../src/inventory/types.js';
import { makeInventory } from '../components/helpers.js';

function inventoryIn(dir: string) {
  const inv = makeInventory();
  inv.file = join(dir, 'lab.yml');
  inv.dir = dir;
  inv.groups.postgres = ['pg1', 'pg2', 'pg3'];
  return inv;
}

describe('removed hosts', () => {
  it('are skipped with a warning while the file still has them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-removed-'));
    recordRemoved(inventoryIn(dir), 'pg3');
    const inv = skipRemoved(inventoryIn(dir));
    expect(inv.hosts.map((h) => h.name)).toEqual(['pg1', 'pg2', 'lb1', 'lb2']);
    expect(inv.groups.postgres).toEqual(['pg1', 'pg2']);
    expect(inv.groups.all).not.toContain('pg3');
    expect(inv.warnings.join('\n')).toMatch(
      /pg3 was removed from the cluster with pgha remove .* delete it from that file/,
    );
  });

  it('are forgotten once the file no longer has them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-removed-'));
    recordRemoved(inventoryIn(dir), 'pg3');
    const edited = inventoryIn(dir);
    edited.hosts = edited.hosts.filter((h) => h.name !== 'pg3');
    expect(skipRemoved(edited).warnings).toEqual([]);
    expect(existsSync(sidecarPath(edited, 'removed.json'))).toBe(false);
    const again = skipRemoved(inventoryIn(dir));
    expect(again.hosts.map((h) => h.name)).toContain('pg3');
  });
});
