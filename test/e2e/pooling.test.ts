// Connection pooling on a real lab: PgBouncer on every member, pooled HAProxy ports. An application role and
// database made through the VIP log in through PgBouncer (auth_query, no password copied), each pooled port reaches
// its role, several concurrent clients share a small transaction pool, the pooled primary port follows a switchover,
// and a second pgha up changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { connect, expectOk, inventory, patroniFetch, pgha, sh, statsAuth, tempInventory } from './helpers.js';
import { ensurePsql } from './psql.js';
import { psqlAt } from '../../bench/load.js';
import { sidecarPath, type Inventory } from '../../src/inventory/types.js';
import { parseStatCsv, upServers } from '../../src/components/haproxy/facts.js';
import type { SshTransport } from '../../src/engine/transport.js';

const file = tempInventory('pooling.yml');
const VIP = '10.231.190.100';
const APP = { user: 'pool_app', password: 'pool-app-Secret-7', db: 'pool_appdb' };
const POOL = 2 + 1; // pgbouncer_default_pool_size + pgbouncer_reserve_pool_size in the fixture
let inv: Inventory;
let superPw = '';
let ssh: Map<string, SshTransport> | undefined;

/** psql on the control machine: the SQL on stdin, one statement a line, each its own transaction. */
const psql = (port: number, user: string, password: string, db: string, sql: string, timeoutMs = 20_000) =>
  psqlAt(VIP, port, password, sql, timeoutMs, { user, db, connectTimeoutS: 5, stdin: true });

const app = (port: number, sql: string) => psql(port, APP.user, APP.password, APP.db, sql);

async function backends(): Promise<Record<string, string[]>> {
  const r = await fetch(`http://${VIP}:8404/;csv`, { signal: AbortSignal.timeout(3000), headers: statsAuth(inv) });
  return upServers(parseStatCsv(await r.text()));
}

async function leader(): Promise<string> {
  for (const a of ['10.231.190.11', '10.231.190.12', '10.231.190.13']) {
    try {
      const r = await patroniFetch(file, a, '/cluster', 2000);
      const c = (await r.json()) as { members: { name: string; role: string }[] };
      const l = c.members.find((m) => m.role === 'leader');
      if (l) return l.name;
    } catch {
      /* the next one */
    }
  }
  return '';
}

async function until<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  let v = await f();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 500));
    v = await f();
  }
  if (!ok(v)) throw new Error(`${what}: still ${JSON.stringify(v)}`);
  return v;
}

beforeAll(() => ensurePsql());

afterAll(async () => {
  for (const t of ssh?.values() ?? []) await t.close();
  await pgha(['destroy', '-i', file, '--yes']);
});

describe('connection pooling with PgBouncer', () => {
  it('pgha up builds the cluster with PgBouncer on every member and verifies the pooled ports', async () => {
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up');
    const pgbouncerSteps = (r.json.steps as { step: string; seconds: number }[]).filter((x) =>
      x.step.startsWith('pgbouncer.'),
    );
    console.log(
      `fresh pgha up with pooling: ${r.seconds.toFixed(1)} s, of which ${pgbouncerSteps.map((x) => `${x.step} ${x.seconds.toFixed(1)} s`).join(', ')}`,
    );
    inv = await inventory(file);
    superPw = (parse(readFileSync(sidecarPath(inv, 'secrets.yml'), 'utf8')) as Record<string, string>)
      .postgres_superuser_password!;
    const steps = new Set((r.json.changes as { step: string }[]).map((c) => c.step));
    expect(steps).toContain('pgbouncer.config');
    const up = await backends();
    const l = await leader();
    expect(up.pooled_primary).toEqual([l]);
    expect(up.pooled_replicas).toEqual(['pg1', 'pg2', 'pg3'].filter((n) => n !== l));
    expect(up.pooled_all).toEqual(['pg1', 'pg2', 'pg3']);
  });

  it('keeps application passwords out of PgBouncer: userlist holds the auth role only, 0600 postgres', async () => {
    ssh = await connect(inv);
    for (const h of ['pg1', 'pg2', 'pg3']) {
      const t = ssh.get(h)!;
      expect(await sh(t, 'stat -c "%U %G %a" /etc/pgbouncer/userlist.txt')).toBe('postgres postgres 600');
      expect((await sh(t, 'cat /etc/pgbouncer/userlist.txt')).split('\n')).toEqual([
        expect.stringMatching(/^"pgbouncer_auth" "[^"]+"$/),
      ]);
      expect(await sh(t, 'grep -E "^(pool_mode|listen_addr|auth_user) " /etc/pgbouncer/pgbouncer.ini')).toBe(
        `listen_addr = ${t.host.address}\nauth_user = pgbouncer_auth\npool_mode = transaction`,
      );
    }
  });

  it('an application role and database made through the VIP log in through each pooled port, in its role', async () => {
    const mk = [
      `CREATE ROLE ${APP.user} LOGIN PASSWORD '${APP.password}'`,
      `CREATE DATABASE ${APP.db} OWNER ${APP.user}`,
    ];
    for (const sql of mk) {
      const r = await psql(5001, 'postgres', superPw, 'postgres', sql);
      expect(r.err).toBe('');
    }
    const l = await leader();
    const primary = await app(6001, 'SELECT pg_is_in_recovery()');
    expect(primary).toMatchObject({ ok: true, out: 'f' });
    const created = await app(6001, 'CREATE TABLE pooled (id int primary key, at timestamptz default now())');
    expect(created.err).toBe('');
    for (let i = 0; i < 4; i++) {
      const replica = await until(
        'replica port',
        () => app(6002, 'SELECT pg_is_in_recovery()'),
        (v) => v.ok,
      );
      expect(replica.out).toBe('t');
      const any = await app(6010, 'SELECT pg_is_in_recovery()');
      expect(['t', 'f']).toContain(any.out);
    }
    console.log(`leader ${l}: 6001 primary, 6002 replicas, 6010 any member through PgBouncer`);
    // A wrong password and a superuser are refused by PgBouncer (auth_query returns no superuser).
    expect((await psql(6001, APP.user, 'wrong-password', APP.db, 'SELECT 1')).ok).toBe(false);
    expect((await psql(6001, 'postgres', superPw, 'postgres', 'SELECT 1')).ok).toBe(false);
  });

  it('transaction pooling: 8 concurrent clients share the pool of 3 server connections, all succeed', async () => {
    const clients = 8;
    const script = Array.from({ length: 4 }, (_, i) => `SELECT pg_backend_pid(), pg_sleep(0.2), ${i};`).join('\n');
    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: clients }, () => app(6001, script)));
    const seconds = (Date.now() - t0) / 1000;
    for (const r of results) expect(r.err).toBe('');
    const pids = new Set(results.flatMap((r) => r.out.split('\n').map((l) => l.split('|')[0])));
    console.log(`${clients} clients x 4 transactions in ${seconds.toFixed(1)} s over ${pids.size} server connections`);
    expect(results.every((r) => r.out.split('\n').length === 4)).toBe(true);
    expect(pids.size).toBeGreaterThan(0);
    expect(pids.size).toBeLessThanOrEqual(POOL);
    // Writes through the pool, one transaction each, all there.
    const writes = await Promise.all(
      Array.from({ length: clients }, (_, c) => app(6001, `INSERT INTO pooled(id) VALUES (${c + 1});`)),
    );
    for (const w of writes) expect(w.err).toBe('');
    expect((await app(6001, 'SELECT count(*) FROM pooled')).out).toBe(String(clients));
  });

  it('after pgha switchover the pooled primary port reaches the new leader', async () => {
    const before = await leader();
    const r = await pgha(['switchover', '-i', file, '--yes'], { json: false });
    expectOk(r, 'pgha switchover');
    const after = await until('a new leader', leader, (n) => n !== '' && n !== before);
    const up = await until(
      'pooled_primary follows',
      backends,
      (b) => JSON.stringify(b.pooled_primary) === JSON.stringify([after]),
    );
    expect(up.pooled_replicas).toContain(before);
    const w = await until(
      'a write through 6001',
      () => app(6001, 'INSERT INTO pooled(id) VALUES (100) ON CONFLICT DO NOTHING; SELECT pg_is_in_recovery();'),
      (v) => v.ok,
    );
    expect(w.out.split('\n').pop()).toBe('f');
    const rd = await until(
      'the row through 6002',
      () => app(6002, 'SELECT count(*) FROM pooled WHERE id = 100'),
      (v) => v.out === '1',
    );
    expect(rd.ok).toBe(true);
    console.log(`switchover ${before} -> ${after}: pooled primary port follows`);
  });

  it('a second pgha up changes nothing', async () => {
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up (no-op)');
    console.log(`no-op pgha up with pooling: ${r.seconds.toFixed(1)} s`);
    expect(r.json.changes).toEqual([]);
  });
});
