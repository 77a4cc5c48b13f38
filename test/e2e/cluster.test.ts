// The whole cluster on five lab hosts: pgha up from bare hosts, verification through the VIP, an idempotent
// re-run, a hard-killed leader under synchronous replication (no acknowledged write lost), and HAProxy dying
// on the VIP holder. During the first pgha up, no secret may show in the hosts' process lists, and none in their journals after.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { connect, expectOk, inventory, pgha, sh, tempInventory, patroniFetch } from './helpers.js';
import { ensurePsql, psql } from './psql.js';
import { hardKillHost, labResourcesLeft } from '../../src/providers/lab/index.js';
import { sidecarPath, type Inventory } from '../../src/inventory/types.js';
import type { SshTransport } from '../../src/engine/transport.js';
import { findSecrets, hostLogs, sampleProcessLists } from './leaks.js';

const file = tempInventory('cluster.yml');
let inv: Inventory;
let password = '';
let conns: Map<string, SshTransport> = new Map();
const VIP = '10.231.70.100';

interface Member {
  name: string;
  role: string;
  state: string;
  timeline?: number;
  host: string;
}

async function members(): Promise<Member[]> {
  for (const h of inv.hosts.filter((x) => x.roles.includes('postgres'))) {
    try {
      const r = await patroniFetch(file, h.address, '/cluster', 2000);
      if (r.ok) return ((await r.json()) as { members: Member[] }).members;
    } catch {
      /* that member is down: ask the next */
    }
  }
  return [];
}

beforeAll(() => ensurePsql());

afterAll(async () => {
  for (const t of conns.values()) await t.close();
  await pgha(['destroy', '-i', file, '--yes']);
});

describe('HA cluster on a 5-host lab', () => {
  it('pgha up takes bare hosts to a verified cluster', async () => {
    // While it works, the process lists of all hosts are read over connections of this test's own.
    const sampler = sampleProcessLists(await inventory(file));
    const r = await pgha(['up', '-i', file]);
    const ps = await sampler.stop();
    expectOk(r, 'pgha up');
    console.log(`pgha up from bare lab hosts: ${r.seconds.toFixed(1)} s`);
    inv = await inventory(file);
    const secrets = parse(readFileSync(sidecarPath(inv, 'secrets.yml'), 'utf8')) as Record<string, string>;
    password = secrets.postgres_superuser_password!;
    expect(password).toMatch(/^[A-Za-z0-9]{16,}$/);
    // No secret in a process list during the run, in pgha's output, or in the hosts' journals and auth logs after.
    const counts = [...ps.samples].map(([h, n]) => `${h} ${n}`).join(', ');
    console.log(
      `process lists sampled during pgha up: ${counts}; distinct command lines: ${[...ps.lines.values()].reduce((n, s) => n + s.size, 0)}`,
    );
    for (const h of inv.hosts) expect([h.name, ps.samples.get(h.name)! > 10]).toEqual([h.name, true]);
    const hits = [...ps.lines].flatMap(([h, lines]) => findSecrets(`${h} ps`, [...lines].join('\n'), secrets));
    hits.push(...findSecrets('pgha stdout', r.stdout, secrets), ...findSecrets('pgha stderr', r.stderr, secrets));
    conns = await connect(inv);
    for (const [name, t] of conns) hits.push(...findSecrets(`${name} logs`, await hostLogs(t), secrets));
    expect(hits).toEqual([]);
    const ms = await members();
    expect(ms.filter((m) => m.role === 'leader')).toHaveLength(1);
    const replicas = ms.filter((m) => m.role !== 'leader');
    expect(replicas).toHaveLength(2);
    for (const m of replicas) expect(m.state).toMatch(/^(running|streaming)$/);
    // The distribution's own cluster never runs beside Patroni; the config is readable only by postgres.
    for (const n of ['pg1', 'pg2', 'pg3']) {
      const t = conns.get(n)!;
      expect(await sh(t, 'ls /etc/postgresql/15 2>/dev/null | wc -l')).toBe('0');
      expect(await sh(t, 'stat -c "%U %a" /etc/patroni/config.yml')).toBe('postgres 600');
    }
  });

  it('routes 5001 to the primary, 5002 to replicas, 5010 to every member', async () => {
    const w = await psql(
      VIP,
      5001,
      password,
      'create table if not exists e2e_probe(id int primary key, at timestamptz default now()); insert into e2e_probe(id) values (1) on conflict do nothing; select pg_is_in_recovery()',
    );
    expect(w.err).toBe('');
    expect(w.out.split('\n').pop()).toBe('f');
    const r = await psql(VIP, 5002, password, 'select pg_is_in_recovery(), count(*) from e2e_probe');
    expect(r.out).toBe('t|1');
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) seen.add((await psql(VIP, 5010, password, 'select inet_server_addr()')).out);
    expect(seen.size).toBeGreaterThan(1);
  });

  it('a second pgha up changes nothing and restarts nothing', async () => {
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up (again)');
    console.log(`no-op pgha up: ${r.json.seconds} s, round trips per host ${JSON.stringify(r.json.roundTrips)}`);
    expect(r.json.changes).toEqual([]);
    expect(r.json.totals.restarted).toEqual([]);
    expect(r.json.totals.reloaded).toEqual([]);
  });

  it('status shows the members, the backends and the VIP holder', async () => {
    const r = await pgha(['status', '-i', file]);
    expectOk(r, 'pgha status');
    const text = JSON.stringify(r.json.status);
    for (const n of ['pg1', 'pg2', 'pg3']) expect(text).toContain(n);
    const human = await pgha(['status', '-i', file], { json: false });
    expect(human.stdout).toMatch(/leader/i);
    expect(human.stdout).toContain(VIP);
  });

  it('a hard-killed leader is replaced; writes through 5001 resume and no acknowledged write is lost', async () => {
    const before = await members();
    const leader = before.find((m) => m.role === 'leader')!;
    expect(await psql(VIP, 5001, password, 'create table if not exists acked(id int primary key)')).toMatchObject({
      ok: true,
    });
    const acked: number[] = [];
    let id = 0;
    let killedAt = 0;
    let firstWriteAfter = 0;
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      id++;
      const r = await psql(VIP, 5001, password, `insert into acked values (${id})`, 4000);
      if (r.ok) {
        acked.push(id);
        if (killedAt && !firstWriteAfter) {
          firstWriteAfter = Date.now();
          break;
        }
      }
      if (!killedAt && acked.length >= 50) {
        await hardKillHost(inv, leader.name);
        killedAt = Date.now();
      }
    }
    expect(killedAt).toBeGreaterThan(0);
    expect(firstWriteAfter).toBeGreaterThan(0);
    const seconds = (firstWriteAfter - killedAt) / 1000;
    console.log(`leader ${leader.name} hard-killed: first write through VIP:5001 after ${seconds.toFixed(1)} s`);
    expect(seconds).toBeLessThan(30);
    const after = await members();
    expect(after.find((m) => m.role === 'leader')?.name).not.toBe(leader.name);
    const present = (await psql(VIP, 5001, password, 'select id from acked order by id')).out.split('\n').map(Number);
    const lost = acked.filter((x) => !present.includes(x));
    expect(lost).toEqual([]);
  });

  it('when HAProxy dies on the VIP holder the VIP moves and 5001 still answers', async () => {
    const lbs = ['lb1', 'lb2'];
    let holder = '';
    for (const n of lbs)
      if ((await sh(conns.get(n)!, `ip -4 -o addr show | grep -c ' ${VIP}/' || true`)) !== '0') holder = n;
    expect(holder).not.toBe('');
    const other = lbs.find((n) => n !== holder)!;
    const t0 = Date.now();
    await sh(conns.get(holder)!, 'systemctl stop haproxy');
    let moved = 0;
    while (Date.now() - t0 < 30_000) {
      if ((await sh(conns.get(other)!, `ip -4 -o addr show | grep -c ' ${VIP}/' || true`)) !== '0') {
        moved = Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(moved).toBeGreaterThan(0);
    console.log(`HAProxy stopped on ${holder}: VIP on ${other} after ${((moved - t0) / 1000).toFixed(1)} s`);
    let answered = false;
    while (Date.now() - t0 < 40_000 && !answered)
      answered = (await psql(VIP, 5001, password, 'select 1', 3000)).out === '1';
    expect(answered).toBe(true);
    expect(await sh(conns.get(holder)!, `ip -4 -o addr show | grep -c ' ${VIP}/' || true`)).toBe('0');
    await sh(conns.get(holder)!, 'systemctl start haproxy');
  });

  it('destroy leaves nothing behind', async () => {
    for (const t of conns.values()) await t.close();
    conns = new Map();
    const r = await pgha(['destroy', '-i', file, '--yes']);
    expectOk(r, 'pgha destroy');
    expect(await labResourcesLeft(inv)).toEqual([]);
  });
});
