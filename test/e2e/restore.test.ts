// Restoring a cluster from its pgBackRest repository on a real lab: rows written through VIP:5001, a full backup,
// more rows, a time T, rows after T and the table dropped; refused targets change nothing; `pgha restore --to T`
// brings back exactly the rows written before T, the cluster verifies and `pgha plan` has nothing to change; then
// `pgha reinit pg3 --from-backup` rebuilds a replica from the repository and it streams again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { expectOk, inventory, pgha, tempInventory, patroniFetch } from './helpers.js';
import { ensurePsql, psql } from './psql.js';
import { sidecarPath } from '../../src/inventory/types.js';

const file = tempInventory('restore.yml');
const VIP = '10.231.180.100';
let password = '';

async function sql(q: string, port = 5001): Promise<string> {
  const r = await psql(VIP, port, password, q, 20_000);
  if (!r.ok) throw new Error(`psql ${q}: ${r.err}`);
  return r.out.trim();
}

async function members(): Promise<{ name: string; role: string; state: string; timeline?: number }[]> {
  for (const a of ['10.231.180.11', '10.231.180.12', '10.231.180.13']) {
    try {
      const r = await patroniFetch(file, a, '/cluster', 2000);
      if (r.ok) return ((await r.json()) as { members: { name: string; role: string; state: string }[] }).members;
    } catch {
      /* the next one */
    }
  }
  return [];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(() => ensurePsql());

afterAll(async () => {
  await pgha(['destroy', '-i', file, '--yes']);
});

describe('restore from the repository', () => {
  let T = '';

  it('pgha up builds the cluster with its repository host', async () => {
    expectOk(await pgha(['up', '-i', file]), 'pgha up');
    const inv = await inventory(file);
    password = (parse(readFileSync(sidecarPath(inv, 'secrets.yml'), 'utf8')) as Record<string, string>)
      .postgres_superuser_password!;
  });

  it('rows, a full backup, more rows, the time T, rows after T, the table dropped', async () => {
    await sql('CREATE TABLE restore_rows (id int PRIMARY KEY, batch text NOT NULL)');
    await sql("INSERT INTO restore_rows SELECT g, 'before backup' FROM generate_series(1, 500) g");
    const b = await pgha(['backup', '-i', file, '--type', 'full']);
    expectOk(b, 'pgha backup --type full');
    await sql("INSERT INTO restore_rows SELECT g, 'after backup' FROM generate_series(501, 800) g");
    await sleep(1500);
    T = await sql(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') || '+00'`);
    await sleep(1500);
    await sql("INSERT INTO restore_rows SELECT g, 'after T' FROM generate_series(801, 900) g");
    await sql('DROP TABLE restore_rows');
  });

  it('refuses bad targets before anything is stopped (exit 2)', async () => {
    const before = await members();
    const garbage = await pgha(['restore', '-i', file, '--to', 'yesterday noon', '--yes']);
    expect(garbage.code).toBe(2);
    expect(garbage.json.error.message).toContain('not a time, latest or a backup label');
    const early = await pgha(['restore', '-i', file, '--to', '2020-01-01 00:00:00', '--yes']);
    expect(early.code).toBe(2);
    expect(early.json.error.message).toMatch(/before the oldest backup ended; the repository reaches from .* to /);
    const late = new Date(Date.now() + 3600_000).toISOString();
    const after = await pgha(['restore', '-i', file, '--to', late, '--yes']);
    expect(after.code).toBe(2);
    expect(after.json.error.message).toContain('after the newest archived WAL');
    const label = await pgha(['restore', '-i', file, '--to', '20200101-000000F', '--yes']);
    expect(label.code).toBe(2);
    expect(label.json.error.message).toContain('no such backup');
    const noTerminal = await pgha(['restore', '-i', file, '--to', T]);
    expect(noTerminal.code).toBe(2);
    expect(noTerminal.json.error.message).toContain('there is no terminal to ask on');
    const now = await members();
    expect(now.map((m) => [m.name, m.role, m.state])).toEqual(before.map((m) => [m.name, m.role, m.state]));
    expect(now.filter((m) => m.state === 'running' || m.state === 'streaming')).toHaveLength(3);
  });

  it('pgha restore --to T brings back exactly the rows written before T, and verifies', async () => {
    const r = await pgha(['restore', '-i', file, '--to', T, '--yes']);
    expectOk(r, 'pgha restore');
    console.log(
      `restore to ${T}: ${r.seconds.toFixed(1)} s in all (command), ${r.json.seconds.toFixed(1)} s restore + verify; ` +
        (r.json.phases as { name: string; seconds: number }[])
          .map((p) => `${p.name} ${p.seconds.toFixed(1)} s`)
          .join('; '),
    );
    const rows = await sql(
      "SELECT batch || ':' || count(*) || ':' || min(id) || ':' || max(id) FROM restore_rows GROUP BY batch ORDER BY 1",
    );
    expect(rows.split('\n')).toEqual(['after backup:300:501:800', 'before backup:500:1:500']);
    const m = await members();
    expect(m.filter((x) => x.role === 'leader')).toHaveLength(1);
    expect(m.filter((x) => x.state === 'running' || x.state === 'streaming')).toHaveLength(3);
  });

  it('pgha verify passes and pgha plan has nothing to change', async () => {
    expectOk(await pgha(['verify', '-i', file]), 'pgha verify');
    const plan = await pgha(['plan', '-i', file, '--exit-code']);
    expect(plan.code, JSON.stringify(plan.json?.changes ?? plan.stderr.slice(-2000))).toBe(0);
  });

  it('pgha reinit pg3 --from-backup restores pg3 from the repository and it streams again', async () => {
    const r = await pgha(['reinit', 'pg3', '-i', file, '--from-backup', '--yes']);
    expectOk(r, 'pgha reinit --from-backup');
    console.log(`reinit pg3 --from-backup: ${r.seconds.toFixed(1)} s (method ${r.json.method})`);
    expect(r.json.method).toBe('pgbackrest');
    const pg3 = (await members()).find((x) => x.name === 'pg3');
    expect(pg3?.state).toMatch(/^(running|streaming)$/);
    expect(await sql("SELECT count(*) FROM restore_rows WHERE batch = 'after backup'", 5002)).toBe('300');
    const plan = await pgha(['plan', '-i', file, '--exit-code']);
    expect(plan.code, JSON.stringify(plan.json?.changes ?? plan.stderr.slice(-2000))).toBe(0);
  });
});
