// Coming from Ansible: the shipped autobase-style example imported as a lab inventory loads, boots and plans
// changes on every host.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importAnsible } from '../../src/import/ansible/index.js';
import { loadInventory } from '../../src/inventory/load.js';
import { labResourcesLeft } from '../../src/providers/lab/index.js';
import { ROOT, expectOk, pgha } from './helpers.js';
import { catalog } from '../../src/components/index.js';

const file = join(mkdtempSync(join(tmpdir(), 'pgha-import-e2e-')), 'imported.yml');
let created = false;

afterAll(async () => {
  if (!created) return;
  const r = await pgha(['destroy', '-i', file, '--yes']);
  expectOk(r, 'pgha destroy');
  expect(await labResourcesLeft(loadInventory(file, catalog))).toEqual([]);
}, 600_000);

describe('import ansible (real lab)', () => {
  it('imports the example as a lab inventory that pgha loads', () => {
    const r = importAnsible(join(ROOT, 'inventory', 'ansible-example', 'inventory'), {
      provider: 'lab',
      cluster: 'ansible-import',
    });
    writeFileSync(file, r.text);
    created = true;
    const inv = loadInventory(file, catalog);
    expect(inv.cluster).toBe('ansible-import');
    expect(inv.provider.type).toBe('lab');
    expect(inv.vip).toBe('10.231.120.100');
    expect(inv.hosts.map((h) => `${h.name} ${h.address} ${[...h.roles].sort().join(',')}`).sort()).toEqual([
      'lb1 10.231.120.21 haproxy',
      'lb2 10.231.120.22 haproxy',
      'pg1 10.231.120.11 etcd,postgres',
      'pg2 10.231.120.12 etcd,postgres',
      'pg3 10.231.120.13 etcd,postgres',
    ]);
    expect(r.unmapped.map((u) => u.name)).toContain('pgbouncer_install');
  });

  it('boots the imported lab and plans changes on all five hosts', async () => {
    const up = await pgha(['lab', 'up', '-i', file]);
    expectOk(up, 'pgha lab up');
    console.log(`lab up (5 hosts, imported inventory): ${up.seconds.toFixed(1)} s`);
    const plan = await pgha(['plan', '-i', file]);
    expectOk(plan, 'pgha plan');
    expect(plan.json.check).toBe(true);
    const hosts = new Set((plan.json.changes as { host: string }[]).map((c) => c.host));
    expect([...hosts].sort()).toEqual(['lb1', 'lb2', 'pg1', 'pg2', 'pg3']);
    console.log(`plan: ${plan.json.changes.length} changes on ${hosts.size} hosts in ${plan.seconds.toFixed(1)} s`);
  });
});
