// TLS on a real lab: a cluster built with tls_enabled: false is moved to TLS by `pgha up` (etcd client and peer
// URLs, Patroni's etcd client, the REST API, PostgreSQL and HAProxy's checks), one member at a time, while writes go
// through VIP:5001: plan names the move first and changes nothing; the move keeps the same leader and timeline and
// loses no acknowledged write (the longest write gap is printed); verify passes. Then, from lb1 (a balancer: no
// etcd or PostgreSQL member): etcd refuses plain http and an https client without a certificate of the CA, psql
// without TLS is refused by pg_hba; the REST API answers HTTPS only; everything listens on the host's address;
// pgha status lists each certificate's expiry; a certificate issued again reaches the REST API and PostgreSQL
// under load; a second pgha up changes nothing.
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
import { ensureHostCert, tlsDir } from '../../src/components/tls/ca.js';
import type { SshTransport } from '../../src/engine/transport.js';

const file = tempInventory('tls.yml');
const VIP = '10.231.250.100';
const PG = ['10.231.250.11', '10.231.250.12', '10.231.250.13'];
const PG1 = PG[0]!;
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

/** Leader and timeline as Patroni reports them (patronictl on pg1, through the DCS with its own settings). */
async function leader(): Promise<{ name: string; tl: number; members: number }> {
  const out = await sh(ssh!.get('pg1')!, 'patronictl -c /etc/patroni/config.yml list -f json');
  const rows = JSON.parse(out) as { Member: string; Role: string; TL?: number }[];
  const l = rows.find((r) => r.Role === 'Leader')!;
  return { name: l.Member, tl: l.TL ?? 0, members: rows.length };
}

describe('TLS: etcd, Patroni, PostgreSQL and HAProxy', () => {
  it('pgha up builds the cluster without TLS (tls_enabled false): plain etcd and REST API, no ssl', async () => {
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up (tls_enabled false)');
    console.log(`fresh pgha up without TLS: ${r.seconds.toFixed(1)} s`);
    inv = await inventory(file);
    ssh = await connect(inv);
    password = (parse(readFileSync(sidecarPath(inv, 'secrets.yml'), 'utf8')) as Record<string, string>)
      .postgres_superuser_password!;
    const plain = await fetch(`http://${PG1}:8008/patroni`, { signal: AbortSignal.timeout(3000) });
    expect(plain.status).toBe(200);
    const ssl = await psqlAt(VIP, 5001, password, 'show ssl');
    expect(ssl).toMatchObject({ ok: true, out: 'off' });
    expect(await sh(ssh.get('pg1')!, 'grep ^ETCD_LISTEN_CLIENT_URLS= /etc/default/etcd')).toContain('http://');
  });

  it('pgha plan with tls_enabled: true names the move, one member at a time, and changes nothing', async () => {
    writeFileSync(file, readFileSync(file, 'utf8').replace('tls_enabled: false', 'tls_enabled: true'));
    const plan = await pgha(['plan', '-i', file], { json: false });
    expectOk(plan, 'pgha plan (to TLS)');
    const out = plan.stdout + plan.stderr;
    expect(out).toContain('moves to HTTPS one member at a time');
    expect(out).toContain('pause the cluster while Patroni restarts with etcd over https');
    expect(out).toContain('etcdctl member update pg1 --peer-urls=https://10.231.250.11:2380');
    expect(await sh(ssh!.get('pg2')!, 'cat /etc/default/etcd')).not.toContain('https');
  });

  it('pgha up moves it to TLS under a write load through VIP:5001: same leader, no write lost', async () => {
    const before = await leader();
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
    console.log(`restarted: ${JSON.stringify(r.json.totals.restarted)}`);
    expect(report.writesOk).toBeGreaterThan(0);
    expect(await lostWrites(target, report.acked)).toEqual([]);
    expect(await leader()).toEqual(before); // no failover: the same leader on the same timeline, every member back
    for (const [i, a] of PG.entries()) {
      const env = await sh(ssh!.get(`pg${i + 1}`)!, 'cat /etc/default/etcd');
      expect(env).toContain(`ETCD_LISTEN_CLIENT_URLS="https://${a}:2379"`);
      expect(env).toContain(`ETCD_LISTEN_PEER_URLS="https://${a}:2380"`);
    }
    const config = await sh(ssh!.get('pg1')!, 'patronictl -c /etc/patroni/config.yml show-config');
    expect(config).not.toMatch(/^pause: true/m);
  });

  it('the cluster works through VIP:5001 and 5002 over TLS, and verify passes', async () => {
    const primary = await psqlAt(VIP, 5001, password, 'select ssl from pg_stat_ssl where pid = pg_backend_pid()');
    expect(primary).toMatchObject({ ok: true, out: 't' });
    const replica = await psqlAt(VIP, 5002, password, 'select pg_is_in_recovery()');
    expect(replica).toMatchObject({ ok: true, out: 't' });
    expectOk(await pgha(['verify', '-i', file]), 'pgha verify');
  });
  it('from the balancer, psql without TLS is refused by pg_hba; with TLS it reaches the password check', async () => {
    const lb = ssh!.get('lb1')!;
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
    expect(plain).toMatch(/no pg_hba\.conf entry for host "10\.231\.250\.21".*no encryption/);
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
    expect(await servedFingerprint('10.231.250.12')).toBe(want);
    const pg = execFileSync(
      'sh',
      [
        '-c',
        'openssl s_client -starttls postgres -connect 10.231.250.12:5432 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256',
      ],
      { encoding: 'utf8', timeout: 15_000 },
    );
    expect(pg.trim().split('=')[1]).toBe(want);
  });

  it('etcd listens on the host address only and refuses clients without a certificate of the CA', async () => {
    const ss = await sh(ssh!.get('pg1')!, 'ss -Hltn');
    const etcdPorts = ss
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[3] ?? '')
      .filter((a) => /:(2379|2380|2381)$/.test(a))
      .sort();
    expect(etcdPorts).toEqual([`${PG[0]}:2379`, `${PG[0]}:2380`, `${PG[0]}:2381`]);

    const lb1 = ssh!.get('lb1')!;
    const cert = ensureHostCert(
      inv,
      inv.hosts.find((h) => h.name === 'lb1')!,
      true,
    )!;
    await sh(
      lb1,
      [
        'set -e',
        'command -v etcdctl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-client >/dev/null',
        'umask 077; mkdir -p /root/etcd-client',
        `cat > /root/etcd-client/ca.crt <<'EOF'\n${cert.ca.trim()}\nEOF`,
        `cat > /root/etcd-client/host.crt <<'EOF'\n${cert.cert.trim()}\nEOF`,
        `cat > /root/etcd-client/host.key <<'EOF'\n${cert.key.trim()}\nEOF`,
      ].join('\n'),
    );
    const ctl = (args: string) => lb1.exec(`ETCDCTL_API=3 etcdctl --dial-timeout=3s --command-timeout=5s ${args} 2>&1`);
    const plain = await ctl(`--endpoints=http://${PG[0]}:2379 get --prefix --keys-only /`);
    console.log(`plain http client: exit ${plain.code}: ${plain.stdout.trim().split('\n').pop()}`);
    expect(plain.code).not.toBe(0);
    const noCert = await ctl(
      `--endpoints=https://${PG[0]}:2379 --cacert=/root/etcd-client/ca.crt get --prefix --keys-only /`,
    );
    console.log(`https client without a certificate: exit ${noCert.code}: ${noCert.stdout.trim().split('\n').pop()}`);
    expect(noCert.code).not.toBe(0);
    const peer = await ctl(`--endpoints=https://${PG[1]}:2380 --cacert=/root/etcd-client/ca.crt endpoint health`);
    expect(peer.code).not.toBe(0);
    const ok = await ctl(
      `--endpoints=${PG.map((a) => `https://${a}:2379`).join(',')} --cacert=/root/etcd-client/ca.crt ` +
        '--cert=/root/etcd-client/host.crt --key=/root/etcd-client/host.key get --prefix --keys-only /service/',
    );
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/\/leader$/m);
    const metrics = await lb1.exec(
      `bash -c 'exec 3<>/dev/tcp/${PG[2]}/2381; printf "GET /metrics HTTP/1.0\\r\\n\\r\\n" >&3; cat <&3' | grep -c '^etcd_server_has_leader 1'`,
    );
    expect(metrics.stdout.trim()).toBe('1');
  });
  it('a second pgha up changes nothing', async () => {
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up (no-op)');
    console.log(`no-op pgha up with TLS: ${r.seconds.toFixed(1)} s`);
    expect(r.json.changes).toEqual([]);
    expect(r.json.totals.restarted).toEqual([]);
  });
});
