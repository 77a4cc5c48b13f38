// `pgha import ansible` as a user runs it: the shipped example on stdout and into a file, what was not imported on
// stderr, refusals with exit 2, and an output that pgha itself loads. Nothing is contacted.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadInventory } from '../../src/inventory/load.js';
import { catalog } from '../../src/components/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const EXAMPLE = join(ROOT, 'inventory', 'ansible-example', 'inventory');
const dir = mkdtempSync(join(tmpdir(), 'pgha-import-cli-'));

const pgha = (args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, CI: '1' } });

describe('pgha import ansible', () => {
  it('prints a pgha inventory that loads, and lists what it left out on stderr', () => {
    const r = pgha(['import', 'ansible', EXAMPLE]);
    expect(r.status).toBe(0);
    const doc = parse(r.stdout) as { cluster: string; provider: string; hosts: Record<string, { roles: string[] }> };
    expect(doc.provider).toBe('static');
    expect(Object.keys(doc.hosts).sort()).toEqual(['lb1', 'lb2', 'pg1', 'pg2', 'pg3']);
    expect(doc.hosts.pg1.roles).toEqual(expect.arrayContaining(['postgres', 'etcd']));
    expect(r.stderr).toMatch(/^\d+ variables? not imported/m);
    expect(r.stderr).toMatch(/pgbouncer_install \[group_vars\/all\.yml:\d+\]: /);
    const file = join(dir, 'stdout.yml');
    writeFileSync(file, r.stdout);
    expect(loadInventory(file, catalog).hosts).toHaveLength(5);
  });

  it('writes the file with -o, refuses to replace it without --force, and takes --provider lab and --cluster', () => {
    const out = join(dir, 'lab.yml');
    const first = pgha(['import', 'ansible', EXAMPLE, '-o', out, '--provider', 'lab', '--cluster', 'imported-lab']);
    expect(first.status).toBe(0);
    expect(first.stdout).toBe('');
    expect(first.stderr).toContain(`wrote ${out}`);
    const inv = loadInventory(out, catalog);
    expect(inv.provider.type).toBe('lab');
    expect(inv.cluster).toBe('imported-lab');
    const again = pgha(['import', 'ansible', EXAMPLE, '-o', out]);
    expect(again.status).toBe(2);
    expect(again.stderr).toContain(`${out} exists already`);
    expect(pgha(['import', 'ansible', EXAMPLE, '-o', out, '--force']).status).toBe(0);
    expect(parse(readFileSync(out, 'utf8')).provider).toBe('static');
  });

  it('refuses a missing inventory, an unknown provider and a missing argument with exit 2', () => {
    const missing = pgha(['import', 'ansible', join(dir, 'nope')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toContain('does not exist');
    const bad = pgha(['import', 'ansible', EXAMPLE, '--provider', 'proxmox']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/proxmox.*is not one of/);
    expect(pgha(['import', 'ansible']).status).toBe(2);
    expect(existsSync(join(dir, 'nope'))).toBe(false);
  });

  it('--json gives the text and the unmapped list as one document', () => {
    const r = pgha(['import', 'ansible', EXAMPLE, '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { ok: boolean; text: string; unmapped: { name: string }[] };
    expect(j.ok).toBe(true);
    expect(parse(j.text).network.vip).toBe('10.231.120.100');
    expect(j.unmapped.map((u) => u.name)).toContain('pgbouncer_install');
  });
});
