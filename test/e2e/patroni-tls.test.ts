// TLS between Patroni, PostgreSQL and HAProxy on a real lab: a cluster built with tls_enabled false is moved to TLS
// by pgha up, one member at a time, under a write load through VIP:5001 (the longest write gap is printed). Then:
// the cluster works through VIP:5001/5002 over TLS and verify passes; from the balancer (not a member) psql without
// TLS is refused by pg_hba and with TLS reaches the password check; the REST API answers HTTPS only; pgha status
// lists each host's certificate expiry; a second pgha up changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { request } from 'node:https';
import { parse } from 'yaml';
import { connect, expectOk, inventory, pgha, sh, tempInventory } from './helpers.js';
import { ensurePsql } from './psql.js';
import { describeLoad, lostWrites, prepareLoad, psqlAt, startLoad, type LoadTarget } from '../../bench/load.js';
import { sidecarPath, type Inventory } from '../../src/inventory/types.js';
import { tlsDir } from '../../src/components/tls/ca.js';
import type { SshTransport } from '../../src/engine/transport.js';

const file = tempInventory('patroni-tls.yml');
const VIP = '10.231.220.100';
const PG1 = '10.231.220.11';
let inv: Inventory;
let password = '';
let ssh: Map<string, SshTransport> | undefined;

/** GET over HTTPS, trusting the inventory's CA only: status and body, or the error. */
function httpsGet(address: string, path: string): Promise<{ status: number; body: string }> {
  const ca = readFileSync(`${tlsDir(inv)}/ca.crt`, 'utf8');
  return new Promise((resolve) => {
    const req = request({ host: address, port: 8008, path, ca, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.end();
  });
}

/** The SHA-256 fingerprint of the certificate a member's REST API presents now. */
function servedFingerprint(address: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: address, port: 8008, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate().fingerprint256);
      s.end();
    });
    s.on('error', reject);
  });
}

beforeAll(() => ensurePsql());

afterAll(async () => {
  for (const t of ssh?.values() ?? []) await t.close();
  await pgha(['destroy', '-i', file, '--yes']);
});

describe('Patroni, PostgreSQL and HAProxy with TLS', () => {
  it('pgha up builds the cluster without TLS (tls_enabled false): plain REST API, no ssl', async () => {
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up (tls_enabled false)');
    console.log(`fresh pgha up without TLS: ${r.seconds.toFixed(1)} s`);
    inv = await inventory(file);
    password = (parse(readFileSync(sidecarPath(inv, 'secrets.yml'), 'utf8')) as Record<string, string>)
      .postgres_superuser_password!;
    const plain = await fetch(`http://${PG1}:8008/patroni`, { signal: AbortSignal.timeout(3000) });
    expect(plain.status).toBe(200);
    const ssl = await psqlAt(VIP, 5001, password, 'show ssl');
    expect(ssl).toMatchObject({ ok: true, out: 'off' });
  });

  it('pgha up moves it to TLS one member at a time under a write load through VIP:5001', async () => {
    writeFileSync(file, readFileSync(file, 'utf8').replace('tls_enabled: false', 'tls_enabled: true'));
    const plan = await pgha(['plan', '-i', file], { json: false });
    expectOk(plan, 'pgha plan (to TLS)');
    expect(plan.stdout + plan.stderr).toContain('moves to HTTPS one member at a time');
    const target: LoadTarget = { host: VIP, password };
    await prepareLoad(target);
    const load = startLoad(target);
    await new Promise((r) => setTimeout(r, 2000));
    const r = await pgha(['up', '-i', file]);
    await new Promise((r) => setTimeout(r, 2000));
    const report = await load.stop();
    expectOk(r, 'pgha up (to TLS)');
    console.log(`move to TLS: pgha up ${r.seconds.toFixed(1)} s; under load: ${describeLoad(report)}`);
    if (report.firstWriteError) console.log(`first write error: ${report.firstWriteError}`);
    expect(report.writesOk).toBeGreaterThan(0);
    expect(await lostWrites(target, report.acked)).toEqual([]);
  });

  it('the cluster works through VIP:5001 and 5002 over TLS, and verify passes', async () => {
    const primary = await psqlAt(VIP, 5001, password, 'select ssl from pg_stat_ssl where pid = pg_backend_pid()');
    expect(primary).toMatchObject({ ok: true, out: 't' });
    const replica = await psqlAt(VIP, 5002, password, 'select pg_is_in_recovery()');
    expect(replica).toMatchObject({ ok: true, out: 't' });
    expectOk(await pgha(['verify', '-i', file]), 'pgha verify');
  });

  it('from the balancer, psql without TLS is refused by pg_hba; with TLS it reaches the password check', async () => {
    ssh = await connect(inv);
    const lb = ssh.get('lb1')!;
    await sh(
      lb,
      'command -v psql >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null',
    );
    const attempt = async (mode: string) =>
      (
        await lb.exec(
          `PGPASSWORD=not-the-password PGCONNECT_TIMEOUT=5 psql -X -At ${`"host=${PG1} port=5432 user=postgres dbname=postgres sslmode=${mode}"`} -c 'select 1' 2>&1 || true`,
        )
      ).stdout.trim();
    const plain = await attempt('disable');
    console.log(`sslmode=disable: ${plain}`);
    expect(plain).toMatch(/no pg_hba\.conf entry for host "10\.231\.220\.21".*no encryption/);
    const secure = await attempt('require');
    console.log(`sslmode=require: ${secure}`);
    expect(secure).toContain('password authentication failed for user "postgres"');
  });

  it('the REST API answers HTTPS only, on the member address', async () => {
    const got = await httpsGet(PG1, '/patroni');
    expect(got.status).toBe(200);
    expect(JSON.parse(got.body).state).toBe('running');
    const plain = await fetch(`http://${PG1}:8008/patroni`, { signal: AbortSignal.timeout(3000) }).then(
      (r) => `HTTP ${r.status}`,
      (e: Error) => `refused: ${e.message}`,
    );
    expect(plain).toMatch(/^refused/);
    const t = ssh!.get('pg1')!;
    expect(await sh(t, 'ss -ltnH "sport = :8008" | awk "{print \\$4}"')).toBe(`${PG1}:8008`);
    expect(await sh(t, 'stat -c "%U %a" /etc/patroni/tls/host.key')).toBe('postgres 600');
  });

  it('pgha status lists each host certificate expiry', async () => {
    const r = await pgha(['status', '-i', file]);
    expectOk(r, 'pgha status');
    const certs = r.json.status.certificates as { host: string; certificates: { daysLeft: number }[] }[];
    console.log(
      `certificates: ${certs.map((c) => `${c.host} ${c.certificates.map((x) => x.daysLeft).join('/')} d`).join(', ')}`,
    );
    expect(certs.map((c) => c.host).sort()).toEqual(['pg1', 'pg2', 'pg3']);
    for (const c of certs) expect(c.certificates[0]!.daysLeft).toBeGreaterThan(800);
  });

  it('a certificate issued again reaches the REST API and PostgreSQL with a reload, under load', async () => {
    const hosts = `${tlsDir(inv)}/hosts`;
    const before = readFileSync(`${hosts}/pg2.crt`, 'utf8');
    rmSync(`${hosts}/pg2.crt`);
    rmSync(`${hosts}/pg2.key`);
    const plan = await pgha(['plan', '-i', file], { json: false });
    expectOk(plan, 'pgha plan (new certificate)');
    expect(plan.stdout + plan.stderr).toContain('new certificates for pg2');
    const target: LoadTarget = { host: VIP, password, table: 'pgha_load_renew' };
    await prepareLoad(target);
    const load = startLoad(target);
    const r = await pgha(['up', '-i', file]);
    const report = await load.stop();
    expectOk(r, 'pgha up (new certificate)');
    expect(await lostWrites(target, report.acked)).toEqual([]);
    console.log(`new certificate for pg2: pgha up ${r.seconds.toFixed(1)} s; under load: ${describeLoad(report)}`);
    const now = readFileSync(`${hosts}/pg2.crt`, 'utf8');
    expect(now).not.toBe(before);
    const want = new X509Certificate(now).fingerprint256;
    expect(await servedFingerprint('10.231.220.12')).toBe(want);
    const pg = execFileSync(
      'sh',
      [
        '-c',
        'openssl s_client -starttls postgres -connect 10.231.220.12:5432 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256',
      ],
      { encoding: 'utf8', timeout: 15_000 },
    );
    expect(pg.trim().split('=')[1]).toBe(want);
  });

  it('a second pgha up changes nothing', async () => {
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up (no-op)');
    console.log(`no-op pgha up with TLS: ${r.seconds.toFixed(1)} s`);
    expect(r.json.changes).toEqual([]);
  });
});
