// Adding and removing a member on a real lab: a postgres-only pg4 added with pgha up under a client load through
// the VIP (streaming, in HAProxy's backends, keepalived untouched), then taken out with pgha remove (gone from
// Patroni and HAProxy, its machine deleted, verify passing), and the leader refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { connect, expectOk, inventory, patroniFetch, pgha, sh, statsAuth, tempInventory } from './helpers.js';
import { ensurePsql } from './psql.js';
import { sidecarPath, type Inventory } from '../../src/inventory/types.js';
import { labSettings } from '../../src/providers/lab/render.js';
import { parseStatCsv, upServers } from '../../src/components/haproxy/facts.js';
import { describeLoad, lostWrites, prepareLoad, startLoad, type LoadTarget } from '../../bench/load.js';

const file = tempInventory('members.yml');
const VIP = '10.231.150.100';
let inv: Inventory;
let target: LoadTarget;

async function members(): Promise<{ name: string; role: string; state: string }[]> {
  for (const a of ['10.231.150.11', '10.231.150.12', '10.231.150.13']) {
    try {
      const r = await patroniFetch(file, a, '/cluster', 2000);
      if (r.ok) return ((await r.json()) as { members: { name: string; role: string; state: string }[] }).members;
    } catch {
      /* the next one */
    }
  }
  return [];
}

async function backends(): Promise<Record<string, string[]>> {
  const r = await fetch(`http://${VIP}:8404/;csv`, { signal: AbortSignal.timeout(3000), headers: statsAuth(inv) });
  return upServers(parseStatCsv(await r.text()));
}

beforeAll(() => ensurePsql());

afterAll(async () => {
  await pgha(['destroy', '-i', file, '--yes']);
});

describe('adding and removing a member', () => {
  it('pgha up builds the 3-member cluster', async () => {
    expectOk(await pgha(['up', '-i', file]), 'pgha up');
    inv = await inventory(file);
    const secrets = parse(readFileSync(sidecarPath(inv, 'secrets.yml'), 'utf8')) as Record<string, string>;
    target = { host: VIP, password: secrets.postgres_superuser_password!, readPort: 5010, table: 'members_load' };
  });

  it('adds pg4 under load: planned, cloned, streaming, in HAProxy, keepalived untouched', async () => {
    appendFileSync(file, '  pg4: {address: 10.231.150.14, roles: [postgres]}\n');
    const plan = await pgha(['plan', '-i', file]);
    expectOk(plan, 'pgha plan');
    const planned = (plan.json.changes as { host: string; step: string; summary: string }[]).filter(
      (c) => c.host === 'lb1',
    );
    expect(planned.map((c) => c.step)).toEqual(['haproxy.config']);
    await prepareLoad(target);
    const load = startLoad(target);
    const r = await pgha(['up', '-i', file]);
    const report = await load.stop();
    expectOk(r, 'pgha up with pg4');
    console.log(`pg4 added in ${r.seconds.toFixed(1)} s; load: ${describeLoad(report)}`);
    expect(report.writesFailed).toBe(0);
    expect((r.json.changes as { host: string; step: string }[]).some((c) => c.step.startsWith('keepalived.'))).toBe(
      false,
    );
    const pg4 = (await members()).find((m) => m.name === 'pg4');
    expect(pg4?.state).toMatch(/^(running|streaming)$/);
    const up = await backends();
    expect(up.replicas).toContain('pg4');
    expect(up.all).toContain('pg4');
  });

  it('a reload of HAProxy keeps every pool as it was: the first stats of the new process show no replica on 5001', async () => {
    const leader = (await members()).find((m) => m.role === 'leader')!.name;
    const ts = await connect(inv);
    const lb1 = ts.get('lb1')!;
    try {
      // The stats of the new worker, read as soon as it answers the admin socket (its Pid differs from the old).
      const csv = await sh(
        lb1,
        [
          'ask() { echo "$1" | socat -t 2 stdio unix-connect:/run/haproxy/admin.sock; }',
          'old=$(ask "show info" | sed -n "s/^Pid: //p")',
          'systemctl reload haproxy',
          'i=0; while [ "$(ask "show info" | sed -n "s/^Pid: //p")" = "$old" ] && [ $i -lt 500 ]; do i=$((i+1)); sleep 0.01; done',
          'ask "show stat"',
        ].join('\n'),
      );
      const up = upServers(parseStatCsv(csv));
      expect(up.primary).toEqual([leader]);
      expect(up.replicas).not.toContain(leader);
      expect(up.replicas).toContain('pg4');
    } finally {
      await Promise.all([...ts.values()].map((t) => t.close()));
    }
  });

  it('refuses to remove the leader (exit 2)', async () => {
    const leader = (await members()).find((m) => m.role === 'leader')!.name;
    const r = await pgha(['remove', leader, '-i', file, '--yes']);
    expect(r.code).toBe(2);
    expect(r.json.error.message).toContain('is the current leader');
  });

  it('removes pg4 under load: out of HAProxy and Patroni, machine deleted, verify passes', async () => {
    await prepareLoad(target); // a fresh table: the load numbers its rows from 1 again
    const load = startLoad(target);
    const r = await pgha(['remove', 'pg4', '-i', file, '--yes']);
    const report = await load.stop();
    expectOk(r, 'pgha remove pg4');
    console.log(`pg4 removed in ${r.seconds.toFixed(1)} s; load: ${describeLoad(report)}`);
    if (report.firstWriteError) console.log(`first failed write: ${report.firstWriteError}`);
    // The balancers reload one at a time and a synchronous standby hands its role over first: at most one
    // statement may fail meanwhile, and no acknowledged write is lost.
    expect(report.writesFailed).toBeLessThanOrEqual(1);
    expect(await lostWrites(target, report.acked)).toEqual([]);
    // A synchronous standby hands its role over first (patroni-nosync); a plain replica has nothing to hand over.
    const ids = (r.json.actions as { id: string }[]).map((a) => a.id);
    console.log(`remove actions: ${ids.join(', ')}`);
    expect(ids.filter((id) => id !== 'patroni-nosync')).toEqual(['haproxy', 'patroni-stop', 'patroni-key', 'machine']);
    expect((await members()).map((m) => m.name).sort()).toEqual(['pg1', 'pg2', 'pg3']);
    const up = await backends();
    expect(up.all).not.toContain('pg4');
    expect(existsSync(join(labSettings(inv).stateDir, 'hosts', 'pg4'))).toBe(false);
    expectOk(await pgha(['verify', '-i', file]), 'pgha verify after the removal');
  });
});
