// TLS between the cluster's services (tls_enabled): Patroni's REST API over HTTPS on the member's own address,
// PostgreSQL with ssl on and hostssl rules, HAProxy's checks over HTTPS, the programs pgha runs against a fake
// Patroni speaking HTTPS, and the certificates `pgha status` reports. The same without TLS: as before.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { FileResource, StepGroupContext, Transport } from '../../src/engine/types.js';
import type { Inventory } from '../../src/inventory/types.js';
import { hostssl, patroniConfigFile, patroniSteps, pgHba } from '../../src/components/patroni/steps.js';
import { patroniSettings } from '../../src/components/patroni/settings.js';
import { apiGetScript, patroniApi } from '../../src/components/patroni/api.js';
import { restartScript } from '../../src/components/patroni/restart.js';
import { haproxyConfigFile, haproxySteps, HAPROXY_CA } from '../../src/components/haproxy/steps.js';
import { metricsEndpoints, scrapeJobs, MONITOR_CA } from '../../src/components/metrics/endpoints.js';
import { ensureHostCert } from '../../src/components/tls/ca.js';
import { parseCerts, certScript } from '../../src/components/tls/expiry.js';
import { parseHttpResponse } from '../../src/components/common.js';
import { makeTlsSwitchStep, overrideFor, parseScheme, planSwitch } from '../../src/components/patroni/tls-switch.js';
import { ctxFor, fakeTransport, makeInventory, plan, SECRETS, stepById } from './helpers.js';
import { LocalTransport, fakeHost } from '../engine/local-transport.js';
import { fakeApi, startFakePatroni, type FakePatroni } from './fake-patroni.js';

const CRED = JSON.stringify({ user: 'patroni', password: 'api-secret' });
const sh = (script: string, stdin = '') => new LocalTransport(fakeHost()).exec(script, { stdin });
const configOf = (inv: Inventory, host: string) =>
  parse(patroniConfigFile(ctxFor(inv, host)).content, { version: '1.1' }) as Record<string, any>;

describe('Patroni and PostgreSQL with tls_enabled (the default)', () => {
  const inv = makeInventory();

  it('the REST API listens on the host address over HTTPS; unsafe methods want a client certificate', () => {
    const c = configOf(inv, 'pg2');
    expect(c.restapi).toMatchObject({
      listen: '10.77.0.12:8008',
      connect_address: '10.77.0.12:8008',
      certfile: '/etc/patroni/tls/host.crt',
      keyfile: '/etc/patroni/tls/host.key',
      cafile: '/etc/patroni/tls/ca.crt',
      verify_client: 'optional',
      authentication: { username: 'patroni' },
    });
    expect(c.ctl).toEqual({
      insecure: false,
      cacert: '/etc/patroni/tls/ca.crt',
      certfile: '/etc/patroni/tls/host.crt',
      keyfile: '/etc/patroni/tls/host.key',
    });
  });

  it('PostgreSQL has ssl on with the member certificate; replication and rewind ask for TLS', () => {
    const c = configOf(inv, 'pg1');
    expect(c.postgresql.parameters).toMatchObject({
      ssl: 'on',
      ssl_cert_file: '/etc/patroni/tls/host.crt',
      ssl_key_file: '/etc/patroni/tls/host.key',
      ssl_ca_file: '/etc/patroni/tls/ca.crt',
    });
    for (const u of ['replication', 'rewind', 'superuser'])
      expect(c.postgresql.authentication[u]).toMatchObject({
        sslmode: 'prefer',
        sslrootcert: '/etc/patroni/tls/ca.crt',
      });
  });

  it('every rule for another host is hostssl, the replication user included; sockets and loopback are not', () => {
    const ctx = ctxFor(inv, 'pg1');
    const lines = pgHba(ctx, patroniSettings(inv, ctx.host));
    expect(lines).toEqual([
      'local all all peer',
      'host all postgres 127.0.0.1/32 scram-sha-256',
      'host replication replicator 127.0.0.1/32 scram-sha-256',
      'hostssl replication replicator 10.77.0.11/32 scram-sha-256',
      'hostssl replication replicator 10.77.0.12/32 scram-sha-256',
      'hostssl replication replicator 10.77.0.13/32 scram-sha-256',
      'hostssl all rewind_user 10.77.0.11/32 scram-sha-256',
      'hostssl all rewind_user 10.77.0.12/32 scram-sha-256',
      'hostssl all rewind_user 10.77.0.13/32 scram-sha-256',
      'hostssl all postgres 10.77.0.11/32 scram-sha-256',
      'hostssl all postgres 10.77.0.12/32 scram-sha-256',
      'hostssl all postgres 10.77.0.13/32 scram-sha-256',
      'hostssl all postgres 10.77.0.21/32 scram-sha-256',
      'hostssl all postgres 10.77.0.22/32 scram-sha-256',
    ]);
    expect(hostssl('host all all 10.0.0.0/8 md5', false)).toBe('host all all 10.0.0.0/8 md5');
    expect(hostssl('host all all ::1/128 scram-sha-256', true)).toBe('host all all ::1/128 scram-sha-256');
    expect(hostssl('host app app 192.0.2.0/24 scram-sha-256', true)).toBe('hostssl app app 192.0.2.0/24 scram-sha-256');
    expect(hostssl('hostssl all all 10.0.0.0/8 md5', true)).toBe('hostssl all all 10.0.0.0/8 md5');
  });

  it('the member gets the CA, its certificate and its key (postgres, 0600) before config.yml', async () => {
    const res = (await plan(stepById(patroniSteps, 'patroni.config'), ctxFor(inv, 'pg1'), {})) as FileResource[];
    const paths = res.filter((r) => r.kind === 'file').map((r) => r.path);
    expect(paths).toEqual([
      '/etc/patroni/tls/ca.crt',
      '/etc/patroni/tls/host.crt',
      '/etc/patroni/tls/host.key',
      '/etc/patroni/config.yml',
      // Patroni's client certificate for etcd (etcd/tls.ts), in a directory of its own.
      '/etc/patroni/etcd-tls/ca.crt',
      '/etc/patroni/etcd-tls/host.crt',
      '/etc/patroni/etcd-tls/host.key',
    ]);
    expect(res[2]).toMatchObject({ owner: 'postgres', mode: '0600', secret: true });
    expect(res[2]!.notify).toEqual([{ service: 'patroni', action: 'reload' }]);
  });

  it("HAProxy checks over HTTPS, verified with the cluster's CA it keeps", async () => {
    const ctx = ctxFor(inv, 'lb1');
    const cfg = haproxyConfigFile(ctx).content;
    const lines = cfg.split('\n').filter((l) => l.trim().startsWith('server '));
    expect(lines.length).toBe(9);
    for (const l of lines)
      expect(l).toMatch(/ check port 8008 check-ssl verify required ca-file \/etc\/haproxy\/pgha-ca\.crt$/);
    const res = (await plan(stepById(haproxySteps, 'haproxy.config'), ctx, {})) as FileResource[];
    expect(res.find((r) => r.path === HAPROXY_CA)).toMatchObject({
      kind: 'file',
      path: HAPROXY_CA,
      notify: [{ service: 'haproxy', action: 'reload' }],
    });
  });

  it("Patroni's /metrics is scraped over HTTPS with the CA", () => {
    const inv2 = makeInventory({ metrics_patroni: true });
    const list = metricsEndpoints(inv2).filter((e) => e.job === 'patroni');
    expect(list.map((e) => e.url)).toEqual([
      'https://10.77.0.11:8008/metrics',
      'https://10.77.0.12:8008/metrics',
      'https://10.77.0.13:8008/metrics',
    ]);
    expect(scrapeJobs('demo', list)[0]).toMatchObject({ scheme: 'https', tls_config: { ca_file: MONITOR_CA } });
  });
});

describe('with tls_enabled false everything stays plain', () => {
  const inv = makeInventory({ tls_enabled: false, metrics_patroni: true });

  it('no certificate, no ssl, host rules, plain checks', async () => {
    const c = configOf(inv, 'pg1');
    expect(c.restapi.listen).toBe('10.77.0.11:8008');
    expect(c.restapi.certfile).toBeUndefined();
    expect(c.ctl).toBeUndefined();
    expect(c.postgresql.parameters.ssl).toBeUndefined();
    expect(c.postgresql.authentication.replication.sslmode).toBeUndefined();
    const lines = pgHba(ctxFor(inv, 'pg1'), patroniSettings(inv, inv.hosts[0]!));
    expect(lines.filter((l) => l.startsWith('hostssl'))).toEqual([]);
    expect(lines).toContain('host replication replicator 10.77.0.12/32 scram-sha-256');
    const cfg = haproxyConfigFile(ctxFor(inv, 'lb1')).content;
    expect(cfg).toContain('server pg1 10.77.0.11:5432 maxconn 200 check port 8008\n');
    expect(cfg).not.toContain('check-ssl');
    const res = (await plan(stepById(patroniSteps, 'patroni.config'), ctxFor(inv, 'pg1'), {})) as FileResource[];
    expect(res.filter((r) => r.kind === 'file').map((r) => r.path)).toEqual(['/etc/patroni/config.yml']);
    expect(metricsEndpoints(inv).find((e) => e.job === 'patroni')!.url).toBe('http://10.77.0.11:8008/metrics');
    expect(patroniApi(inv, inv.hosts[0]!)).toEqual({ address: '10.77.0.11', port: 8008 });
  });
});

describe("pgha's programs against a Patroni serving HTTPS", () => {
  let fake: FakePatroni | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  /** A CA and a certificate for 127.0.0.1, made with openssl, and the member's copies of them in a folder. */
  function certificates() {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-ptls-'));
    const inv = { file: join(dir, 'lab.yml'), dir, cluster: 'demo', vars: {} };
    const host = { ...makeInventory().hosts[0]!, address: '127.0.0.1' };
    const got = ensureHostCert(inv, host, true)!;
    const tlsDir = join(dir, 'member');
    mkdirSync(tlsDir);
    const paths = { ca: join(tlsDir, 'ca.crt'), cert: join(tlsDir, 'host.crt'), key: join(tlsDir, 'host.key') };
    writeFileSync(paths.ca, got.ca);
    writeFileSync(paths.cert, got.cert);
    writeFileSync(paths.key, got.key, { mode: 0o600 });
    return { pem: got, paths };
  }

  it('POST /restart presents the member certificate and the password, verifies the server', async () => {
    const { pem, paths } = certificates();
    fake = await startFakePatroni([{ name: 'pg1', role: 'replica', pendingRestart: true }], {
      tls: { ca: pem.ca, cert: pem.cert, key: pem.key },
    });
    const m = fake.members[0]!;
    const r = await sh(restartScript(fakeApi(m.port, paths), { pollSec: 0 }), CRED);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const post = fake.calls.find((c) => c.method === 'POST')!;
    expect(post).toMatchObject({ path: '/restart', clientCert: true });
    expect(post.auth).toBe(`Basic ${Buffer.from('patroni:api-secret').toString('base64')}`);
  });

  it('without the client certificate the unsafe request is refused', async () => {
    const { pem, paths } = certificates();
    fake = await startFakePatroni([{ name: 'pg1', role: 'replica', pendingRestart: true }], {
      tls: { ca: pem.ca, cert: pem.cert, key: pem.key },
    });
    const noCert = { ...paths, cert: join(tmpdir(), 'missing.crt'), key: join(tmpdir(), 'missing.key') };
    const r = await sh(restartScript(fakeApi(fake.members[0]!.port, noCert), { pollSec: 0 }), CRED);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('403');
    expect(fake.calls.find((c) => c.method === 'POST')).toMatchObject({ path: '/restart', clientCert: false });
    expect(fake.members[0]!.pendingRestart).toBe(true);
  });

  it('a certificate of another CA is not trusted', async () => {
    const { pem } = certificates();
    const other = certificates();
    fake = await startFakePatroni([{ name: 'pg1', role: 'replica', pendingRestart: false }], {
      tls: { ca: pem.ca, cert: pem.cert, key: pem.key },
    });
    // The client trusts only `other`'s CA: https fails verification, plain http is no answer either.
    const r = await sh(apiGetScript(fakeApi(fake.members[0]!.port, other.paths), '/patroni'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/CERTIFICATE_VERIFY_FAILED|certificate verify failed/);
  });

  it('GET works while a member still serves plain HTTP (TLS being switched on, one member at a time)', async () => {
    const { paths } = certificates();
    fake = await startFakePatroni([{ name: 'pg1', role: 'leader', pendingRestart: false }]);
    const r = parseHttpResponse((await sh(apiGetScript(fakeApi(fake.members[0]!.port, paths), '/patroni'))).stdout);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).role).toBe('master');
  });

  it('the certificates on a host and the days they remain valid', async () => {
    const { pem, paths } = certificates();
    const r = await sh(certScript([paths.cert, '/nonexistent/host.crt']));
    const now = Date.now();
    const got = parseCerts(r.stdout, now);
    expect(got.map((c) => c.path)).toEqual([paths.cert]);
    // Issued for 825 days just now.
    expect(got[0]!.daysLeft).toBe(824);
    expect(parseCerts(r.stdout, now + 824 * 86_400_000)[0]!.daysLeft).toBe(0);
    expect(pem.cert).toContain('BEGIN CERTIFICATE');
  });
});

describe('moving a running cluster to TLS, one member at a time', () => {
  const inv = makeInventory();
  const now = new Map<string, 'http' | 'https' | 'none' | undefined>([
    ['pg1', 'http'],
    ['pg2', 'http'],
    ['pg3', 'http'],
  ]);

  it('switches the members that serve the other scheme, replicas first, the leader last', () => {
    expect(planSwitch('https', now, ['pg1', 'pg2', 'pg3'], 'pg1').members).toEqual(['pg2', 'pg3', 'pg1']);
    expect(planSwitch('https', now, ['pg1', 'pg2', 'pg3'], 'pg3').members).toEqual(['pg1', 'pg2', 'pg3']);
    // Done already, or not built yet (patroni.config makes it): nothing to switch.
    const mixed = new Map(now).set('pg2', 'https').set('pg3', 'none');
    expect(planSwitch('https', mixed, ['pg1', 'pg2', 'pg3'], 'pg2').members).toEqual(['pg1']);
    expect(planSwitch('http', now, ['pg1', 'pg2', 'pg3'], 'pg1').members).toEqual([]);
    // Renewal: members already on TLS whose certificate is issued again reload it, replicas first, the leader last.
    const onTls = new Map([...now].map(([k]) => [k, 'https' as const]));
    const r = planSwitch('https', onTls, ['pg1', 'pg2', 'pg3'], 'pg1', new Set(['pg1', 'pg3']));
    expect(r).toMatchObject({ members: [], renew: ['pg3', 'pg1'] });
    expect(planSwitch('https', now, ['pg1', 'pg2', 'pg3'], 'pg1', new Set(['pg1'])).renew).toEqual([]);
    expect(parseScheme('https\n')).toBe('https');
    expect(parseScheme('')).toBeUndefined();
  });

  it('HAProxy tolerates failed checks of the members about to switch, then checks each switched one over HTTPS', () => {
    const p = planSwitch('https', now, ['pg1', 'pg2', 'pg3'], 'pg1');
    const lines = (done: string[], pending: string[]) =>
      haproxyConfigFile(ctxFor(inv, 'lb1'), overrideFor(p, new Set(done), new Set(pending)))
        .content.split('\n')
        .filter((l) => l.includes('server pg') && l.includes(':5432'))
        .slice(0, 3)
        .map((l) => l.replace(/^.*check port 8008/, '').trim());
    const ssl = 'check-ssl verify required ca-file /etc/haproxy/pgha-ca.crt';
    // Before any member switches: plain checks, every member tolerant.
    expect(lines([], ['pg2', 'pg3', 'pg1'])).toEqual(['fall 30', 'fall 30', 'fall 30']);
    // pg2 switched: checked over HTTPS with its normal fall; the others still plain and tolerant.
    expect(lines(['pg2'], ['pg3', 'pg1'])).toEqual(['fall 30', ssl, 'fall 30']);
    // All switched: what haproxy.config renders for the inventory, so it finds nothing to change.
    const final = haproxyConfigFile(ctxFor(inv, 'lb1'), overrideFor(p, new Set(['pg1', 'pg2', 'pg3']), new Set()));
    expect(final.content).toBe(haproxyConfigFile(ctxFor(inv, 'lb1')).content);
  });

  it('the step changes only a member being switched, with the files patroni.config would write', async () => {
    const step = stepById(patroniSteps, 'patroni.tls');
    expect(step.serial).toBe(true);
    expect(await plan(step, ctxFor(inv, 'pg1'), {})).toEqual([]); // not decided: nothing
  });
});

describe('the switch step against fake hosts', () => {
  /** Members answer their scheme (http) and GETs; balancers run HAProxy; every write is recorded with its input. */
  function hosts(check: boolean) {
    const inv = makeInventory();
    const pushed: { host: string; script: string; stdin: string }[] = [];
    const logs: string[] = [];
    const cluster = JSON.stringify({
      members: ['pg1', 'pg2', 'pg3'].map((n) => ({
        name: n,
        role: n === 'pg2' ? 'leader' : 'replica',
        state: 'running',
      })),
    });
    const transports = new Map<string, Transport>(
      inv.hosts.map((h) => {
        const t = fakeTransport(h, (s) => {
          if (s.includes('certfile:')) return { stdout: 'http\n' };
          if (s.includes('/cluster')) return { stdout: `HTTP/1.0 200\r\n\r\n${cluster}` };
          if (s.includes('/patroni')) return { stdout: 'HTTP/1.0 200\r\n\r\n{"state":"running"}' };
          return {};
        });
        const exec = t.exec.bind(t);
        t.exec = async (script, o) => {
          if (script.includes('cat > "$tmp"') || script.includes('reload haproxy'))
            pushed.push({ host: h.name, script, stdin: o?.stdin ?? '' });
          return exec(script, o);
        };
        return [h.name, t];
      }),
    );
    const g: StepGroupContext = {
      inventory: inv,
      hosts: inv.hosts.filter((h) => h.roles.includes('postgres')),
      transports,
      secrets: SECRETS,
      check,
      log: (l) => logs.push(l),
      changedInRun: () => [],
    };
    return { inv, g, pushed, logs, transports };
  }
  const serverChecks = (cfg: string) =>
    cfg
      .split('\n')
      .filter((l) => l.includes('server pg') && l.includes(':5432'))
      .slice(0, 3)
      .map((l) => l.replace(/^.*check port 8008/, '').trim());
  const ssl = 'check-ssl verify required ca-file /etc/haproxy/pgha-ca.crt';

  it('plan says which members move, in which order, and changes nothing', async () => {
    const { g, pushed, logs } = hosts(true);
    const step = makeTlsSwitchStep();
    await step.before!(g);
    expect((await step.order!(g)).map((h) => h.name)).toEqual(['pg1', 'pg3', 'pg2']);
    expect(logs.join('\n')).toContain('the REST API of pg1, pg3, pg2 moves to HTTPS one member at a time');
    expect(pushed).toEqual([]);
  });

  it('refuses before any change when a balancer cannot be reached (its checks could not follow)', async () => {
    const { g, pushed } = hosts(false);
    g.transports.delete('lb2');
    const e = await makeTlsSwitchStep().before!(g).catch((x: unknown) => x);
    expect(String((e as Error).message)).toContain('cannot reach lb2');
    expect(pushed).toEqual([]);
  });

  it('apply: balancers tolerate first, then check each member over HTTPS once it answers it', async () => {
    const { inv, g, pushed, transports } = hosts(false);
    const dir = mkdtempSync(join(tmpdir(), 'pgha-tlsstep-'));
    inv.file = join(dir, 'lab.yml');
    inv.dir = dir;
    const step = makeTlsSwitchStep();
    await step.before!(g);
    const configs = () => pushed.filter((p) => p.script.includes('haproxy -dW -c')).map((p) => p.stdin);
    // Both balancers: every member still plain and tolerant; the CA is written before the config.
    expect(configs().map(serverChecks)).toEqual([
      ['fall 30', 'fall 30', 'fall 30'],
      ['fall 30', 'fall 30', 'fall 30'],
    ]);
    expect(
      pushed
        .filter((p) => p.host === 'lb1')
        .map((p) => /haproxy-server-state|pgha-server-state|pgha-ca|haproxy\.cfg|reload/.exec(p.script)?.[0]),
    ).toEqual(['haproxy-server-state', 'pgha-server-state', 'pgha-ca', 'haproxy.cfg', 'reload']);
    const pg1 = ctxFor(inv, 'pg1', { check: false });
    const res = (await step.resources(pg1, {})) as FileResource[];
    expect(res.map((r) => r.path)).toEqual([
      '/etc/patroni/tls/ca.crt',
      '/etc/patroni/tls/host.crt',
      '/etc/patroni/tls/host.key',
      '/etc/patroni/config.yml',
    ]);
    pushed.length = 0;
    await step.verify!(pg1, transports.get('pg1')!);
    expect(configs().map(serverChecks)).toEqual([
      [ssl, 'fall 30', 'fall 30'],
      [ssl, 'fall 30', 'fall 30'],
    ]);
    pushed.length = 0;
    await step.verify!(ctxFor(inv, 'pg3', { check: false }), transports.get('pg3')!);
    await step.verify!(ctxFor(inv, 'pg2', { check: false }), transports.get('pg2')!);
    // After the leader: what haproxy.config renders for the inventory.
    expect(configs().at(-1)).toBe(haproxyConfigFile(ctxFor(inv, 'lb2')).content);
  });
});
