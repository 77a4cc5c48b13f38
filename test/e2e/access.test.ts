// Access end to end on a lab of its own (10.231.230.0/24): a declared application database and user reach their
// own database through the VIP and no other; the superuser is refused from a client host that is no member and
// accepted from a member; the HAProxy stats page wants its password; `pgha rotate-secrets` under a write load
// through VIP:5001 keeps writes working, the old superuser password stops working, replication reconnects with
// the new one, and a re-run of up changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { connect, expectOk, inventory, pgha, sh, statsAuth, tempInventory } from './helpers.js';
import { ensurePsql } from './psql.js';
import { describeLoad, lostWrites, prepareLoad, psqlAt, startLoad, type LoadTarget } from '../../bench/load.js';
import { sidecarPath, type Inventory } from '../../src/inventory/types.js';
import type { SshTransport } from '../../src/engine/transport.js';

const file = tempInventory('access.yml');
const VIP = '10.231.230.100';
let inv: Inventory;
let ssh: Map<string, SshTransport> | undefined;

const secrets = () => parse(readFileSync(sidecarPath(inv, 'secrets.yml'), 'utf8')) as Record<string, string>;
const viaVip = (user: string, db: string, password: string, sql = 'select current_user') =>
  psqlAt(VIP, 5001, password, sql, 10_000, { user, db, connectTimeoutS: 5 });

/** psql on a lab host (its own client) straight to pg1's address; the password travels in the script on stdin. */
async function fromHost(host: string, user: string, password: string): Promise<{ code: number; out: string }> {
  const r = await ssh!
    .get(host)!
    .exec(
      `PGPASSWORD='${password}' PGCONNECT_TIMEOUT=5 psql -X -At -h 10.231.230.11 -U ${user} -d postgres -c 'select 1' 2>&1`,
    );
  return { code: r.code, out: r.stdout.trim() };
}

beforeAll(() => ensurePsql());

afterAll(async () => {
  for (const t of ssh?.values() ?? []) await t.close();
  await pgha(['destroy', '-i', file, '--yes']);
});

describe('least-privilege access and secret rotation', () => {
  it('pgha up builds the cluster with the declared database and user, and a client host', async () => {
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up');
    console.log(`fresh pgha up: ${r.seconds.toFixed(1)} s`);
    inv = await inventory(file);
    ssh = await connect(inv);
    expect(await sh(ssh.get('app1')!, 'ls /usr/bin/psql /usr/bin/etcdctl | wc -l')).toBe('2');
  });

  it('an application user reaches its own database through the VIP, and no other', async () => {
    const pw = secrets().postgres_user_shop_password!;
    const own = await viaVip('shop', 'shopdb', pw);
    expect(own.err).toBe('');
    expect(own.out).toBe('shop');
    const other = await viaVip('shop', 'otherdb', pw);
    expect(other.ok).toBe(false);
    expect(other.err).toContain('no pg_hba.conf entry');
    expect((await viaVip('shop', 'shopdb', 'not-the-password')).ok).toBe(false);
  });

  it('the superuser is refused from a client host and accepted from a member', async () => {
    const pw = secrets().postgres_superuser_password!;
    const client = await fromHost('app1', 'postgres', pw);
    expect(client.code).not.toBe(0);
    expect(client.out).toContain('no pg_hba.conf entry for host "10.231.230.31"');
    expect(await fromHost('pg2', 'postgres', pw)).toEqual({ code: 0, out: '1' });
  });

  it('the HAProxy stats page wants its password; keepalived talks unicast', async () => {
    const url = `http://${VIP}:8404/;csv`;
    expect((await fetch(url, { signal: AbortSignal.timeout(3000) })).status).toBe(401);
    expect((await fetch(url, { signal: AbortSignal.timeout(3000), headers: statsAuth(inv) })).status).toBe(200);
    expect(await sh(ssh!.get('lb1')!, 'grep -A1 unicast_peer /etc/keepalived/keepalived.conf | tail -1')).toBe(
      '10.231.230.22',
    );
  });

  it('pgha rotate-secrets under a write load keeps writes working; old passwords stop working', async () => {
    const before = secrets();
    const target: LoadTarget = {
      host: VIP,
      password: before.postgres_user_shop_password!,
      user: 'shop',
      db: 'shopdb',
      readPort: 5010,
      table: 'access_load',
    };
    await prepareLoad(target);
    // Every secret but the one the load logs in with.
    const names = Object.keys(before).filter((k) => k !== 'postgres_user_shop_password');
    const load = startLoad(target);
    await new Promise((r) => setTimeout(r, 2000));
    const r = await pgha(['rotate-secrets', ...names, '-i', file, '--yes']);
    await new Promise((r2) => setTimeout(r2, 2000));
    const report = await load.stop();
    console.log(
      `pgha rotate-secrets (${names.length} secrets): ${r.seconds.toFixed(1)} s; load: ${describeLoad(report)}`,
    );
    expectOk(r, 'pgha rotate-secrets');
    expect(report.firstWriteError ?? '').toBe('');
    expect(report.writesOk).toBeGreaterThan(0);
    expect(await lostWrites(target, report.acked)).toEqual([]);

    const after = secrets();
    for (const k of names) expect(after[k], k).not.toBe(before[k]);
    expect(after.postgres_user_shop_password).toBe(before.postgres_user_shop_password);
    const old = await viaVip('postgres', 'postgres', before.postgres_superuser_password!);
    expect(old.err).toContain('password authentication failed');
    expect((await viaVip('postgres', 'postgres', after.postgres_superuser_password!)).err).toBe('');
    expect((await viaVip('other', 'otherdb', after.postgres_user_other_password!)).out).toBe('other');
  });

  it('replicas reconnect with the new replication password; verify passes; up again changes nothing', async () => {
    const pw = secrets().postgres_superuser_password!;
    const kill = await viaVip(
      'postgres',
      'postgres',
      pw,
      'select count(pg_terminate_backend(pid)) from pg_stat_replication',
    );
    expect(kill.out).toBe('2');
    let streaming = '';
    for (let i = 0; i < 30 && streaming !== '2'; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const q = "select count(*) from pg_stat_replication where state = 'streaming'";
      streaming = (await viaVip('postgres', 'postgres', pw, q)).out;
    }
    expect(streaming).toBe('2');
    expectOk(await pgha(['verify', '-i', file]), 'pgha verify');
    const again = await pgha(['up', '-i', file]);
    expectOk(again, 'pgha up (again)');
    console.log(`pgha up again: ${again.seconds.toFixed(1)} s`);
    expect(again.json.changes).toEqual([]);
  });
});
