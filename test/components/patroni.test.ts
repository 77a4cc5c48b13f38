import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse } from 'yaml';
import type { CommandResource, FileResource } from '../../src/engine/types.js';
import { CREATECLUSTER_DROPIN, PATRONI_CONFIG, patroniSteps } from '../../src/components/patroni/steps.js';
import { judgeCluster, parseCluster, parsePatroniStatus } from '../../src/components/patroni/facts.js';
import { patroniSettings } from '../../src/components/patroni/settings.js';
import { UserError } from '../../src/util/errors.js';
import { ctxFor, makeInventory, plan, SECRETS, stepById } from './helpers.js';
import { fakeBin } from '../engine/fake-bin.js';
import { shq } from '../../src/engine/quote.js';
import { join } from 'node:path';
import { pointAtFake } from './fake-patroni.js';

const pointed = (inv: ReturnType<typeof makeInventory>, port: number) => {
  for (const h of inv.hosts) pointAtFake(h, port);
  return inv;
};

describe('patroni install', () => {
  it('writes create_main_cluster = false before postgresql is installed, and drops a leftover main', async () => {
    const res = await plan(stepById(patroniSteps, 'patroni.install'), ctxFor(makeInventory(), 'pg1'), {});
    const iDrop = res.findIndex((r) => r.kind === 'file' && r.path === CREATECLUSTER_DROPIN);
    const iPkg = res.findIndex((r) => r.kind === 'packages');
    expect(iDrop).toBeGreaterThanOrEqual(0);
    expect(iDrop).toBeLessThan(iPkg);
    expect((res[iDrop] as FileResource).content).toMatch(/^create_main_cluster = false$/m);
    expect(res[iPkg]).toMatchObject({ names: ['postgresql-15', 'postgresql-client-15', 'patroni', 'python3-etcd'] });
    const drop = res.find((r) => r.kind === 'command') as CommandResource;
    expect(drop.argv).toEqual(['pg_dropcluster', '--stop', '15', 'main']);
    expect(drop.unless).toBe('! test -e /etc/postgresql/15/main/postgresql.conf');
  });
});

describe('patroni config', () => {
  const step = stepById(patroniSteps, 'patroni.config');
  const cfgOf = async (name = 'pg2', vars: Record<string, unknown> = {}) => {
    const res = await plan(step, ctxFor(makeInventory(vars), name), {});
    const f = res.find((r) => r.kind === 'file' && r.path === PATRONI_CONFIG) as FileResource;
    return { f, doc: parse(f.content) as Record<string, any>, res };
  };

  it('is a secret file for postgres only, validated by patroni, reloaded on change', async () => {
    const { f, res } = await cfgOf();
    expect(f.path).toBe(PATRONI_CONFIG);
    expect(f).toMatchObject({ owner: 'postgres', group: 'postgres', mode: '0600', secret: true });
    expect(f.validate!.split('%s')).toHaveLength(2); // exactly one placeholder
    // Run as apply runs it (the new file in place of %s) against a fake patroni that answers like 3.0.2.
    const validate = async (out: string, code: number) => {
      const { fake, t, calls } = fakeBin({ patroni: `cat <<'EOF'\n${out}\nEOF\nexit ${code}` });
      const r = await t.exec(f.validate!.split('%s').join(shq(join(fake, 'new config.yml'))));
      return { ...r, calls: calls(), file: join(fake, 'new config.yml') };
    };
    const ok = await validate('', 0);
    expect(ok.code).toBe(0);
    expect(ok.calls).toEqual([`patroni --validate-config ${ok.file}`]);
    const bad = await validate(
      '/etc/patroni/config.yml postgresql.authentication.superuser.password None is not a string',
      1,
    );
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('password None is not a string');
    // On a running member its own ports are taken: that alone is no reason to refuse the file.
    const busy =
      'restapi.listen 0.0.0.0:8008 Port 8008 is already in use.\npostgresql.listen 0.0.0.0:5432 Port 5432 is already in use.';
    expect((await validate(busy, 1)).code).toBe(0);
    const both = await validate(`${busy}\nbootstrap.dcs.ttl abc is not an integer`, 1);
    expect(both.code).toBe(1);
    expect(both.stdout.trim()).toBe('bootstrap.dcs.ttl abc is not an integer');
    expect(f.notify).toEqual([{ service: 'patroni', action: 'reload' }]);
    expect(res).toContainEqual({ kind: 'service', name: 'patroni', enabled: true, state: 'started' });
  });

  it('validation tolerates etcd hosts that do not answer while one does, and still catches real errors', async () => {
    const { f } = await cfgOf();
    const validate = async (out: string) => {
      const { fake, t } = fakeBin({ patroni: `cat <<'EOF'\n${out}\nEOF\nexit 1` });
      return await t.exec(f.validate!.split('%s').join(shq(join(fake, 'patroni.yml'))));
    };
    // As 3.0.2 words it: one line per etcd host it cannot connect to.
    const unreachable = (i: number) =>
      `etcd3.hosts.${i} 10.77.0.1${i + 1}:2379 didn't pass validation: '10.77.0.1${i + 1}:2379 is not reachable'`;
    const busy = 'restapi.listen 0.0.0.0:8008 Port 8008 is already in use.';
    expect((await validate(unreachable(2))).code).toBe(0);
    expect((await validate(`${busy}\n${unreachable(0)}\n${unreachable(1)}`)).code).toBe(0);
    // None of the three answers: the complaints stand.
    const none = await validate([0, 1, 2].map(unreachable).join('\n'));
    expect(none.code).toBe(1);
    expect(none.stdout.trim().split('\n')).toEqual([0, 1, 2].map(unreachable));
    // A real error next to an unreachable host still fails, and is what is shown.
    const real = await validate(`${unreachable(1)}\npostgresql.authentication.rewind  is not defined.`);
    expect(real.code).toBe(1);
    expect(real.stdout.trim()).toBe('postgresql.authentication.rewind  is not defined.');
    // A malformed etcd host is not a connectivity problem.
    const wrong = await validate("etcd3.hosts.1 10.77.0.12 didn't pass validation: 'contains a wrong value'");
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain('contains a wrong value');
  });

  it('renders scope, etcd3 hosts with ports, REST API, bootstrap and auth', async () => {
    const { doc } = await cfgOf();
    expect(doc.scope).toBe('demo');
    expect(doc.name).toBe('pg2');
    expect(doc.namespace).toBe('/service/');
    expect(doc.etcd3.hosts).toEqual(['10.77.0.11:2379', '10.77.0.12:2379', '10.77.0.13:2379']);
    expect(doc.etcd).toBeUndefined(); // v2 API would orphan the state
    expect(doc.restapi.connect_address).toBe('10.77.0.12:8008');
    expect(doc.restapi.listen).toBe('10.77.0.12:8008'); // the host's own address only
    expect(doc.restapi.authentication).toEqual({ username: 'patroni', password: SECRETS.patroni_api_password });
    expect(doc.bootstrap.dcs).toMatchObject({
      ttl: 8,
      loop_wait: 2,
      retry_timeout: 3,
      synchronous_mode: true,
      synchronous_mode_strict: false,
    });
    expect(doc.bootstrap.dcs.loop_wait + 2 * doc.bootstrap.dcs.retry_timeout).toBeLessThanOrEqual(
      doc.bootstrap.dcs.ttl,
    );
    expect(doc.bootstrap.dcs.postgresql.use_pg_rewind).toBe(true);
    expect(doc.bootstrap.dcs.postgresql.parameters).toMatchObject({
      wal_level: 'replica',
      max_connections: 200,
      wal_log_hints: 'on',
    });
    // Patroni reads YAML 1.1, where a bare on is a boolean: strings must stay strings there too.
    expect(parse((await cfgOf()).f.content, { version: '1.1' }).bootstrap.dcs.postgresql.parameters.hot_standby).toBe(
      'on',
    );
    expect(doc.bootstrap.initdb).toEqual([{ encoding: 'UTF8' }, { locale: 'C.UTF-8' }, 'data-checksums']);
    // With TLS (the default) each asks for it; the CA is there to verify the server.
    const ssl = { sslmode: 'prefer', sslrootcert: '/etc/patroni/tls/ca.crt' };
    expect(doc.postgresql.authentication).toEqual({
      superuser: { username: 'postgres', password: SECRETS.postgres_superuser_password, ...ssl },
      replication: { username: 'replicator', password: SECRETS.replication_password, ...ssl },
      rewind: { username: 'rewind_user', password: SECRETS.rewind_password, ...ssl },
    });
    expect(doc.postgresql.connect_address).toBe('10.77.0.12:5432');
    expect(doc.postgresql.data_dir).toBe('/var/lib/postgresql/15/patroni');
    expect(doc.postgresql.bin_dir).toBe('/usr/lib/postgresql/15/bin');
  });

  it('pg_hba: replication and rewind from every member, the superuser from the cluster hosts, nothing subnet-wide', async () => {
    // Without TLS (with TLS the same rules are hostssl: patroni-tls.test.ts).
    const { doc } = await cfgOf('pg2', { tls_enabled: false });
    const hba: string[] = doc.postgresql.pg_hba;
    for (const a of ['10.77.0.11', '10.77.0.12', '10.77.0.13']) {
      expect(hba).toContain(`host replication replicator ${a}/32 scram-sha-256`);
      expect(hba).toContain(`host all rewind_user ${a}/32 scram-sha-256`);
      expect(hba).toContain(`host all postgres ${a}/32 scram-sha-256`);
    }
    for (const a of ['10.77.0.21', '10.77.0.22']) expect(hba).toContain(`host all postgres ${a}/32 scram-sha-256`);
    expect(hba.filter((l) => l.includes('10.77.0.0/24') || / all all /.test(l))).toEqual(['local all all peer']);
    expect(doc.postgresql.listen).toBe('127.0.0.1,10.77.0.12:5432');
    expect(hba).toContain('local all all peer');
    expect(hba.some((l) => /\btrust\b/.test(l))).toBe(false);
    expect(doc.bootstrap.pg_hba).toEqual(hba); // required by 3.0.2's validator
  });

  it('takes timing, parameters and synchronous mode from inventory vars', async () => {
    const { doc } = await cfgOf('pg1', {
      patroni_ttl: 20,
      patroni_loop_wait: 5,
      patroni_synchronous_mode: false,
      postgres_parameters: { max_connections: 300, work_mem: '8MB' },
    });
    expect(doc.bootstrap.dcs).toMatchObject({ ttl: 20, loop_wait: 5, synchronous_mode: false });
    expect(doc.bootstrap.dcs.postgresql.parameters).toMatchObject({
      max_connections: 300,
      work_mem: '8MB',
      wal_level: 'replica',
    });
  });

  it('rejects timings that break loop_wait + 2*retry_timeout <= ttl', () => {
    const inv = makeInventory({ patroni_ttl: 6 });
    expect(() => patroniSettings(inv, inv.hosts[0]!)).toThrow(UserError);
  });

  it('renders the same bytes twice (no timestamps, stable order)', async () => {
    const a = await cfgOf('pg3', { postgres_parameters: { b_param: 1, a_param: 2 } });
    const b = await cfgOf('pg3', { postgres_parameters: { a_param: 2, b_param: 1 } });
    expect(a.f.content).toBe(b.f.content);
  });
});

describe('patroni DCS settings through the REST API', () => {
  it('only the first member carries the PATCH, guarded by a comparison with GET /config', async () => {
    const step = stepById(patroniSteps, 'patroni.dcs');
    expect(await plan(step, ctxFor(makeInventory(), 'pg2'), {})).toEqual([]);
    const [cmd] = (await plan(step, ctxFor(makeInventory(), 'pg1'), {})) as CommandResource[];
    expect(cmd!.unless).toContain('/config');
    expect(cmd!.secrets).toEqual([SECRETS.patroni_api_password]);
    expect(cmd!.script).not.toContain(SECRETS.patroni_api_password); // credentials travel on stdin
    expect(cmd!.stdin).toContain(SECRETS.patroni_api_password);
  });

  it('guard and PATCH work against an HTTP server speaking like Patroni (loopback)', async () => {
    let stored: Record<string, any> = {
      ttl: 30,
      loop_wait: 10,
      retry_timeout: 10,
      maximum_lag_on_failover: 1048576,
      synchronous_mode: false,
      synchronous_mode_strict: false,
      postgresql: { use_pg_rewind: true, use_slots: true, parameters: { max_connections: 100 } },
    };
    const seen: { method: string; auth?: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method!, auth: req.headers.authorization });
        if (req.method === 'PATCH') {
          const p = JSON.parse(body);
          stored = {
            ...stored,
            ...p,
            postgresql: {
              ...stored.postgresql,
              ...p.postgresql,
              parameters: { ...stored.postgresql.parameters, ...p.postgresql?.parameters },
            },
          };
        }
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify(stored));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const [cmd] = (await plan(
        stepById(patroniSteps, 'patroni.dcs'),
        ctxFor(pointed(makeInventory(), port), 'pg1'),
        {},
      )) as CommandResource[];
      // Async spawn: the server above runs on this event loop.
      const run = (script: string, stdin?: string) =>
        new Promise<number>((resolve) => {
          const p = spawn('sh', ['-c', script]);
          p.stdin.end(stdin ?? '');
          p.on('close', (code) => resolve(code ?? -1));
        });
      expect(await run(cmd!.unless!)).toBe(1); // ttl 30 stored, 8 wanted
      expect(await run(cmd!.script!, cmd!.stdin)).toBe(0);
      const patch = seen.find((s) => s.method === 'PATCH')!;
      expect(patch.auth).toBe(`Basic ${Buffer.from(`patroni:${SECRETS.patroni_api_password}`).toString('base64')}`);
      expect(stored).toMatchObject({ ttl: 8, loop_wait: 2, retry_timeout: 3 });
      expect(stored.postgresql.parameters.max_connections).toBe(200);
      expect(await run(cmd!.unless!)).toBe(0); // second run: nothing to do
    } finally {
      server.close();
    }
  });
});

describe('Patroni /cluster rules', () => {
  const healthy = {
    members: [
      {
        name: 'pg1',
        role: 'leader',
        state: 'running',
        api_url: 'http://10.77.0.11:8008/patroni',
        host: '10.77.0.11',
        port: 5432,
        timeline: 2,
      },
      {
        name: 'pg2',
        role: 'replica',
        state: 'running',
        api_url: 'http://10.77.0.12:8008/patroni',
        host: '10.77.0.12',
        port: 5432,
        timeline: 2,
        lag: 0,
      },
      {
        name: 'pg3',
        role: 'sync_standby',
        state: 'running',
        api_url: 'http://10.77.0.13:8008/patroni',
        host: '10.77.0.13',
        port: 5432,
        timeline: 2,
        lag: 16,
      },
    ],
  };
  const names = ['pg1', 'pg2', 'pg3'];
  const judge = (doc: unknown) => judgeCluster(parseCluster(JSON.stringify(doc)), names, 1048576);
  const edit = (i: number, patch: Record<string, unknown>) => ({
    members: healthy.members.map((m, j) => (j === i ? { ...m, ...patch } : m)),
  });

  it('accepts one leader with running replicas on one timeline', () => {
    const v = judge(healthy);
    expect(v.ok).toBe(true);
    expect(v.leader!.name).toBe('pg1');
    expect(v.replicas.map((r) => r.name)).toEqual(['pg2', 'pg3']);
  });
  it('rejects two leaders, none, lag, state, timeline, missing members', () => {
    expect(judge(edit(1, { role: 'leader' })).problem).toContain('2 leaders');
    expect(judge(edit(0, { role: 'replica', lag: 0 })).problem).toContain('0 leaders');
    expect(judge(edit(2, { lag: 5_000_000 })).problem).toContain('lags');
    expect(judge(edit(2, { lag: 'unknown' })).problem).toContain('unknown');
    expect(judge(edit(1, { state: 'creating replica' })).problem).toContain('creating replica');
    expect(judge(edit(2, { timeline: 1 })).problem).toContain('timelines differ');
    expect(judge({ members: healthy.members.slice(0, 2) }).problem).toContain('missing: pg3');
    expect(judge({ ...healthy, pause: true }).problem).toContain('paused');
  });
  it('leaves a member the inventory does not name out of the verdict (plan lists it), but not a leader', () => {
    const extra = { name: 'pg4', role: 'replica', state: 'stopped', timeline: 1, lag: 'unknown' };
    const v = judge({ members: [...healthy.members, extra] });
    expect(v.ok).toBe(true);
    expect(v.replicas.map((r) => r.name)).toEqual(['pg2', 'pg3']);
    const leader4 = { ...extra, role: 'leader', state: 'running' };
    expect(judge({ members: [...healthy.members, leader4] }).problem).toContain('2 leaders');
  });
  it('reads GET /patroni (3.0.2 calls the primary "master")', () => {
    expect(
      parsePatroniStatus(
        '{"state":"running","role":"master","timeline":2,"patroni":{"version":"3.0.2","scope":"demo"}}',
      ),
    ).toEqual({ state: 'running', role: 'master', timeline: 2 });
  });
});
