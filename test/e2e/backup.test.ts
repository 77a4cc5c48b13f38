// Backups on a real lab: pgBackRest in TLS server mode with a repository host (bk1). pgha up builds the cluster
// with archiving on; rows written through VIP:5001; pgha backup --type full; pgha backups lists it; pgha verify
// passes (pgbackrest check, last backup age, archiver); a re-run of pgha up changes nothing; then the leader's
// machine is hard-killed and archiving goes on from the new leader (a new WAL segment in the repository).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { connect, expectOk, inventory, pgha, sh, tempInventory, patroniFetch } from './helpers.js';
import { ensurePsql, psql } from './psql.js';
import { sidecarPath, type Inventory } from '../../src/inventory/types.js';
import { hardKillHost } from '../../src/providers/lab/index.js';
import type { SshTransport } from '../../src/engine/transport.js';

const file = tempInventory('backup.yml');
const VIP = '10.231.170.100';
const MEMBERS = ['10.231.170.11', '10.231.170.12', '10.231.170.13'];
let inv: Inventory;
let password = '';
let conns: Map<string, SshTransport>;

async function members(): Promise<{ name: string; role: string; state: string }[]> {
  for (const a of MEMBERS) {
    try {
      const r = await patroniFetch(file, a, '/cluster', 2000);
      if (r.ok) return ((await r.json()) as { members: { name: string; role: string; state: string }[] }).members;
    } catch {
      /* the next one */
    }
  }
  return [];
}

/** The newest WAL segment in the repository (pgbackrest info on bk1). */
async function walMax(): Promise<string> {
  const out = await sh(conns.get('bk1')!, 'runuser -u pgbackrest -- pgbackrest --stanza=e2e-backup --output=json info');
  const d = JSON.parse(out) as { archive: { max: string }[] }[];
  return (
    d[0]!.archive
      .map((a) => a.max)
      .sort()
      .pop() ?? ''
  );
}

beforeAll(() => ensurePsql());

afterAll(async () => {
  for (const t of conns?.values() ?? []) await t.close().catch(() => undefined);
  await pgha(['destroy', '-i', file, '--yes']);
});

describe('backups with pgBackRest', () => {
  it('pgha up builds the cluster with a repository host, archiving on and a first full backup', async () => {
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up');
    console.log(`pgha up (fresh, backups on): ${r.seconds.toFixed(1)} s`);
    inv = await inventory(file);
    conns = await connect(inv);
    password = (parse(readFileSync(sidecarPath(inv, 'secrets.yml'), 'utf8')) as Record<string, string>)
      .postgres_superuser_password!;
    for (const h of ['pg1', 'pg2', 'pg3', 'bk1'])
      expect(await sh(conns.get(h)!, 'systemctl is-active pgbackrest-server')).toBe('active');
    expect(await sh(conns.get('bk1')!, 'systemctl is-active pgbackrest-full.timer pgbackrest-diff.timer')).toBe(
      'active\nactive',
    );
  });

  it('writes rows through VIP:5001, pgha backup --type full takes a backup, pgha backups lists it', async () => {
    const w = await psql(
      VIP,
      5001,
      password,
      "create table if not exists bk_rows as select g as id, md5(g::text) as v from generate_series(1, 200000) g; select pg_size_pretty(pg_database_size('postgres'))",
      60_000,
    );
    expect(w.ok, w.err).toBe(true);
    const r = await pgha(['backup', '--type', 'full', '-i', file]);
    expectOk(r, 'pgha backup');
    expect(r.stderr).toMatch(/full backup of stanza e2e-backup on bk1/);
    const label = r.json.backup.label as string;
    expect(label).toMatch(/^\d{8}-\d{6}F$/);
    console.log(
      `pgha backup --type full: ${r.seconds.toFixed(1)} s (pgBackRest ${(r.json.elapsedMs / 1000).toFixed(1)} s); database ${w.out.split('\n').pop()}, ` +
        `${r.json.backup.size} B, in the repository ${r.json.backup.repoSize} B`,
    );
    const list = await pgha(['backups', '-i', file]);
    expectOk(list, 'pgha backups');
    const backups = list.json.backups as { label: string; type: string; stop: number; walStop: string }[];
    expect(backups.map((b) => b.label)).toContain(label);
    expect(backups.find((b) => b.label === label)).toMatchObject({ type: 'full' });
    expect(list.json.wal.max).toMatch(/^[0-9A-F]{24}$/);
    const text = await pgha(['backups', '-i', file], { json: false });
    expect(text.stdout + text.stderr).toMatch(new RegExp(`${label}\\s+full\\s+`));
  });

  it('pgha verify passes (pgbackrest check, backup age, archiving)', async () => {
    expectOk(await pgha(['verify', '-i', file]), 'pgha verify');
  });

  it('a re-run of pgha up changes nothing', async () => {
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up (again)');
    console.log(`pgha up (no-op, backups on): ${r.seconds.toFixed(1)} s`);
    expect(r.json.changes).toEqual([]);
  });

  it("after the leader's machine is killed, archiving goes on from the new leader", async () => {
    const leader = (await members()).find((m) => m.role === 'leader')!.name;
    const before = await walMax();
    await hardKillHost(inv, leader);
    const t0 = Date.now();
    let newLeader = '';
    let after = before;
    while (Date.now() - t0 < 120_000) {
      const m = (await members()).find((x) => x.role === 'leader' && x.state === 'running');
      if (m && m.name !== leader) {
        newLeader = m.name;
        const r = await psql(
          VIP,
          5001,
          password,
          'insert into bk_rows values (0, now()::text); select pg_switch_wal()',
        );
        if (r.ok) {
          after = await walMax();
          if (after > before) break;
        }
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
    console.log(
      `leader ${leader} killed: ${newLeader} leads; repository WAL ${before} -> ${after} after ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );
    expect(newLeader).not.toBe('');
    expect(after > before).toBe(true);
    // The new timeline's segments come from the new leader.
    expect(after.slice(0, 8) > before.slice(0, 8)).toBe(true);
  });
});
