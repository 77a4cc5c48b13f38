// etcd with tls_enabled: the rendered /etc/default/etcd in each phase (plain, prep, secure), Patroni's etcd3
// section in both modes, which migration step acts given the facts, and the etcdctl commands run against a fake
// etcdctl on PATH.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ctxFor, makeInventory, plan, stepById } from './helpers.js';
import { fakeBin } from '../engine/fake-bin.js';
import { etcdSteps } from '../../src/components/etcd/steps.js';
import {
  etcdMigrateSteps,
  memberUpdatedTest,
  memberUpdateScript,
  patroniDcsScheme,
  PAUSE_MARKER,
} from '../../src/components/etcd/migrate.js';
import { etcdPhase, localClient } from '../../src/components/etcd/tls.js';
import { etcdctl } from '../../src/components/etcd/facts.js';
import { patroniConfigFile, patroniSteps } from '../../src/components/patroni/steps.js';
import { UserError } from '../../src/util/errors.js';
import type { CommandResource, FileResource, Resource } from '../../src/engine/types.js';

const PLAIN = { tls_enabled: false };
const config = stepById(etcdSteps, 'etcd.config');
const secure = stepById(etcdMigrateSteps, 'etcd.secure');
const secureFirst = stepById(etcdMigrateSteps, 'etcd.secure-first');
const patroniDcs = stepById(etcdMigrateSteps, 'etcd.patroni-dcs');
const resume = stepById(etcdMigrateSteps, 'etcd.patroni-resume');

/** KEY="value" lines of an environment file as a map (comments and blank lines skipped). */
function env(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of text.split('\n')) {
    const m = /^([A-Z0-9_]+)="(.*)"$/.exec(l);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

const files = (rs: Resource[]) => rs.filter((r): r is FileResource => r.kind === 'file');
const etcdDefault = (rs: Resource[]) => files(rs).find((f) => f.path === '/etc/default/etcd')!;

/** /etc/default/etcd as `pgha up` writes it on pg1 for this inventory and these facts. */
async function render(vars: Record<string, unknown>, facts: Record<string, unknown>) {
  const rs = await plan(config, ctxFor(makeInventory(vars), 'pg1'), facts);
  return { rs, file: etcdDefault(rs), env: env(etcdDefault(rs).content) };
}

describe('etcd environment', () => {
  it('without TLS stays plain http, loopback included, no certificate', async () => {
    const { env: e, rs } = await render(PLAIN, { etcdMember: false, etcdPeers: null });
    expect(e.ETCD_LISTEN_CLIENT_URLS).toBe('http://10.77.0.11:2379,http://127.0.0.1:2379');
    expect(e.ETCD_ADVERTISE_CLIENT_URLS).toBe('http://10.77.0.11:2379');
    expect(e.ETCD_LISTEN_PEER_URLS).toBe('http://10.77.0.11:2380');
    expect(e.ETCD_CLIENT_CERT_AUTH).toBeUndefined();
    expect(e.ETCD_LISTEN_METRICS_URLS).toBeUndefined();
    expect(files(rs).map((f) => f.path)).toEqual(['/etc/default/etcd']);
  });

  it('a new TLS member listens with https on its own address only, certificates required of clients and peers', async () => {
    const { env: e, rs } = await render({}, { etcdMember: false, etcdPeers: null });
    expect(e.ETCD_LISTEN_CLIENT_URLS).toBe('https://10.77.0.11:2379');
    expect(e.ETCD_ADVERTISE_CLIENT_URLS).toBe('https://10.77.0.11:2379');
    expect(e.ETCD_LISTEN_PEER_URLS).toBe('https://10.77.0.11:2380');
    expect(e.ETCD_INITIAL_ADVERTISE_PEER_URLS).toBe('https://10.77.0.11:2380');
    expect(e.ETCD_INITIAL_CLUSTER).toBe(
      'pg1=https://10.77.0.11:2380,pg2=https://10.77.0.12:2380,pg3=https://10.77.0.13:2380',
    );
    expect([e.ETCD_CLIENT_CERT_AUTH, e.ETCD_PEER_CLIENT_CERT_AUTH]).toEqual(['true', 'true']);
    expect([e.ETCD_TRUSTED_CA_FILE, e.ETCD_PEER_TRUSTED_CA_FILE]).toEqual([
      '/etc/etcd/tls/ca.crt',
      '/etc/etcd/tls/ca.crt',
    ]);
    expect([e.ETCD_CERT_FILE, e.ETCD_KEY_FILE]).toEqual(['/etc/etcd/tls/host.crt', '/etc/etcd/tls/host.key']);
    expect([e.ETCD_PEER_CERT_FILE, e.ETCD_PEER_KEY_FILE]).toEqual(['/etc/etcd/tls/host.crt', '/etc/etcd/tls/host.key']);
    expect(e.ETCD_LISTEN_METRICS_URLS).toBe('http://10.77.0.11:2381');
    expect(Object.values(e).filter((v) => /0\.0\.0\.0|127\.0\.0\.1|localhost/.test(v))).toEqual([]);
    const key = files(rs).find((f) => f.path === '/etc/etcd/tls/host.key')!;
    expect([key.owner, key.mode, key.secret]).toEqual(['etcd', '0600', true]);
    // A new member is started by the start step: nothing restarts here.
    expect(files(rs).filter((f) => f.notify?.length)).toEqual([]);
  });

  it('a formed plain member moved to TLS first gets its certificates, its URLs still plain http', async () => {
    const before = (await render(PLAIN, { etcdMember: true, etcdPeers: null })).file.content;
    const { env: e, file, rs } = await render({}, { etcdMember: true, etcdPeers: null, etcdDefault: before });
    expect(e.ETCD_LISTEN_CLIENT_URLS).toBe('http://10.77.0.11:2379,http://127.0.0.1:2379');
    expect(e.ETCD_ADVERTISE_CLIENT_URLS).toBe('http://10.77.0.11:2379');
    expect(e.ETCD_LISTEN_PEER_URLS).toBe('http://10.77.0.11:2380');
    expect(e.ETCD_INITIAL_CLUSTER).toContain('pg2=http://10.77.0.12:2380');
    expect(e.ETCD_PEER_CERT_FILE).toBe('/etc/etcd/tls/host.crt');
    expect(file.notify).toEqual([{ service: 'etcd', action: 'restart' }]);
    // A certificate issued again restarts the member too (the step is serial: one member at a time).
    expect(files(rs).find((f) => f.path === '/etc/etcd/tls/host.crt')!.notify).toEqual([
      { service: 'etcd', action: 'restart' },
    ]);
  });

  it('a member already on https peers stays secure; TLS is never taken away in place', async () => {
    const fresh = (await render({}, { etcdMember: false, etcdPeers: null })).file.content;
    const again = await render({}, { etcdMember: true, etcdPeers: null, etcdDefault: fresh });
    expect(again.env.ETCD_LISTEN_CLIENT_URLS).toBe('https://10.77.0.11:2379');
    expect(again.file.content.replace(/^ETCD_INITIAL_CLUSTER_STATE=.*$/m, '')).toBe(
      fresh.replace(/^ETCD_INITIAL_CLUSTER_STATE=.*$/m, ''),
    );
    await expect(render(PLAIN, { etcdMember: true, etcdPeers: null, etcdDefault: fresh })).rejects.toThrow(UserError);
    await expect(render(PLAIN, { etcdMember: true, etcdPeers: null, etcdDefault: fresh })).rejects.toThrow(
      /not done in place/,
    );
  });
});

describe('Patroni etcd3 section', () => {
  const etcd3 = (vars: Record<string, unknown>) =>
    (parse(patroniConfigFile(ctxFor(makeInventory(vars), 'pg2')).content) as { etcd3: Record<string, unknown> }).etcd3;

  it('speaks https with its own client certificate with TLS, plain http without', () => {
    expect(etcd3({})).toEqual({
      protocol: 'https',
      cacert: '/etc/patroni/etcd-tls/ca.crt',
      cert: '/etc/patroni/etcd-tls/host.crt',
      key: '/etc/patroni/etcd-tls/host.key',
      hosts: ['10.77.0.11:2379', '10.77.0.12:2379', '10.77.0.13:2379'],
    });
    expect(etcd3(PLAIN)).toEqual({ hosts: ['10.77.0.11:2379', '10.77.0.12:2379', '10.77.0.13:2379'] });
  });

  it('puts the client key where only postgres reads it', async () => {
    const patroniConfig = stepById(patroniSteps, 'patroni.config');
    const rs = await plan(patroniConfig, ctxFor(makeInventory(), 'pg1'), {});
    const key = files(rs).find((f) => f.path === '/etc/patroni/etcd-tls/host.key')!;
    expect([key.owner, key.group, key.mode, key.secret]).toEqual(['postgres', 'postgres', '0600', true]);
    const plainRs = await plan(patroniConfig, ctxFor(makeInventory(PLAIN), 'pg1'), {});
    expect(files(plainRs).map((f) => f.path)).toEqual(['/etc/patroni/config.yml']);
  });
});

describe('migration planning', () => {
  it('phase of a member from tls_enabled, its data and its current file', () => {
    const plainFile = 'ETCD_INITIAL_ADVERTISE_PEER_URLS="http://10.77.0.11:2380"\n';
    const secureFile = 'ETCD_INITIAL_ADVERTISE_PEER_URLS="https://10.77.0.11:2380"\n';
    expect(etcdPhase(false, true, plainFile)).toBe('plain');
    expect(etcdPhase(true, false, '')).toBe('secure');
    expect(etcdPhase(true, true, plainFile)).toBe('prep');
    expect(etcdPhase(true, true, secureFile)).toBe('secure');
  });

  it('etcd.secure updates the peer URL then restarts a prep member with https only; nothing on others', async () => {
    const prep = (
      await render(
        {},
        {
          etcdMember: true,
          etcdPeers: null,
          etcdDefault: (await render(PLAIN, { etcdMember: true, etcdPeers: null })).file.content,
        },
      )
    ).file.content;
    const ctx = ctxFor(makeInventory(), 'pg1');
    const rs = await plan(secure, ctx, { etcdMember: true, etcdPeers: null, etcdDefault: prep });
    expect(rs.map((r) => r.kind)).toEqual(['command', 'file']);
    expect((rs[0] as CommandResource).label).toBe('etcdctl member update pg1 --peer-urls=https://10.77.0.11:2380');
    const e = env((rs[1] as FileResource).content);
    expect([e.ETCD_LISTEN_CLIENT_URLS, e.ETCD_LISTEN_PEER_URLS, e.ETCD_ADVERTISE_CLIENT_URLS]).toEqual([
      'https://10.77.0.11:2379',
      'https://10.77.0.11:2380',
      'https://10.77.0.11:2379',
    ]);
    expect((rs[1] as FileResource).notify).toEqual([{ service: 'etcd', action: 'restart' }]);
    const done = (rs[1] as FileResource).content;
    expect(await plan(secure, ctx, { etcdMember: true, etcdPeers: null, etcdDefault: done })).toEqual([]);
    expect(await plan(secure, ctx, { etcdMember: false, etcdPeers: null, etcdDefault: '' })).toEqual([]);
    // The first switch is the inventory's first etcd member's only.
    expect((await plan(secureFirst, ctx, { etcdMember: true, etcdPeers: null, etcdDefault: prep })).length).toBe(2);
    const pg2 = ctxFor(makeInventory(), 'pg2');
    expect(await plan(secureFirst, pg2, { etcdMember: true, etcdPeers: null, etcdDefault: prep })).toEqual([]);
    const plainCtx = ctxFor(makeInventory(PLAIN), 'pg1');
    expect(await plan(secure, plainCtx, { etcdMember: true, etcdPeers: null, etcdDefault: prep })).toEqual([]);
  });

  it('etcd.patroni-dcs pauses, then restarts Patroni with https only where Patroni still speaks http', async () => {
    const plainConf = patroniConfigFile(ctxFor(makeInventory(PLAIN), 'pg1')).content;
    const tlsConf = patroniConfigFile(ctxFor(makeInventory(), 'pg1')).content;
    expect([patroniDcsScheme(plainConf), patroniDcsScheme(tlsConf), patroniDcsScheme('')]).toEqual([
      'http',
      'https',
      'none',
    ]);
    const ctx = ctxFor(makeInventory(), 'pg1');
    const rs = await plan(patroniDcs, ctx, { patroniDcs: 'http', patroniRest: 'http' });
    const cmd = rs[0] as CommandResource;
    expect(cmd.label).toMatch(/^pause the cluster/);
    expect(cmd.script).toContain(`touch ${PAUSE_MARKER}`);
    const conf = files(rs).find((f) => f.path === '/etc/patroni/config.yml')!;
    // etcd over https; the REST API and PostgreSQL as the host has them (plain here): patroni.tls moves them later.
    expect(patroniDcsScheme(conf.content)).toBe('https');
    expect(conf.content).not.toMatch(/^ {2}certfile:/m);
    expect(conf.content).not.toContain('hostssl');
    expect(conf.content).toContain('host all postgres 10.77.0.11/32 scram-sha-256');
    const restDone = await plan(patroniDcs, ctx, { patroniDcs: 'http', patroniRest: 'https' });
    expect(files(restDone).find((f) => f.path === '/etc/patroni/config.yml')!.content).toBe(tlsConf);
    expect(conf.notify).toEqual([{ service: 'patroni', action: 'restart' }]);
    expect(files(rs).map((f) => f.path)).toContain('/etc/patroni/etcd-tls/host.key');
    expect(files(rs).findIndex((f) => f.path.endsWith('host.key'))).toBeLessThan(files(rs).indexOf(conf));
    expect(await plan(patroniDcs, ctx, { patroniDcs: 'https' })).toEqual([]);
    expect(await plan(patroniDcs, ctx, { patroniDcs: 'none' })).toEqual([]);
    expect(await plan(patroniDcs, ctxFor(makeInventory(PLAIN), 'pg1'), { patroniDcs: 'http' })).toEqual([]);
    const [r] = (await plan(resume, ctx, {})) as CommandResource[];
    expect(r!.unless).toBe(`! test -e ${PAUSE_MARKER}`);
  });
});

describe('etcdctl commands', () => {
  const LIST =
    '8e9e05c52164694d, started, pg1, http://10.77.0.11:2380, http://10.77.0.11:2379, false\n' +
    '91bc3c398fb3c146, started, pg2, https://10.77.0.12:2380, https://10.77.0.12:2379, false\n';

  function fake(list = LIST) {
    const f = fakeBin({ etcdctl: 'case "$*" in *"member list"*) cat "$FAKE/list" ;; *) echo updated ;; esac' });
    writeFileSync(join(f.fake, 'list'), list);
    return f;
  }

  it('with TLS go to the host address over https with etcd certificate; without, to the loopback', () => {
    const inv = makeInventory();
    const tls =
      '--cacert=/etc/etcd/tls/ca.crt --cert=/etc/etcd/tls/host.crt --key=/etc/etcd/tls/host.key --dial-timeout=2s --command-timeout=4s';
    // A member not switched yet (move to TLS) answers on its plain loopback listener only: the same call goes there.
    expect(etcdctl(localClient(inv, inv.hosts[0]!), ['endpoint', 'health'])).toBe(
      `{ pgha_etcd_out=$(ETCDCTL_API=3 etcdctl --endpoints=https://10.77.0.11:2379 ${tls} endpoint health 2>/dev/null) && printf '%s\\n' "$pgha_etcd_out" || ` +
        `ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 ${tls} endpoint health; }`,
    );
    const plain = makeInventory(PLAIN);
    expect(etcdctl(localClient(plain, plain.hosts[0]!), ['endpoint', 'health'])).toBe(
      'ETCDCTL_API=3 etcdctl --endpoints=http://127.0.0.1:2379 --dial-timeout=2s --command-timeout=4s endpoint health',
    );
  });

  it('member update finds the member id by name and sets the https peer URL', async () => {
    const { t, calls } = fake();
    const ctx = ctxFor(makeInventory(), 'pg1');
    const r = await t.exec(memberUpdateScript(ctx));
    expect(r.code).toBe(0);
    const tls =
      '--endpoints=https://10.77.0.11:2379 --cacert=/etc/etcd/tls/ca.crt --cert=/etc/etcd/tls/host.crt --key=/etc/etcd/tls/host.key --dial-timeout=2s --command-timeout=4s';
    expect(calls()).toEqual([
      `etcdctl ${tls} member list -w simple`,
      `etcdctl ${tls} member update 8e9e05c52164694d --peer-urls=https://10.77.0.11:2380`,
    ]);
  });

  it('the fallback answer replaces what a failed first call printed', async () => {
    const f = fakeBin({
      etcdctl:
        'case "$*" in *--endpoints=https://*) echo \'[{"health":false}]\'; exit 1 ;; *) echo \'[{"health":true}]\' ;; esac',
    });
    const inv = makeInventory();
    const r = await f.t.exec(etcdctl(localClient(inv, inv.hosts[0]!), ['endpoint', 'health', '-w', 'json']));
    expect([r.code, r.stdout]).toEqual([0, '[{"health":true}]\n']);
    const down = fakeBin({ etcdctl: 'echo \'[{"health":false}]\'; exit 1' });
    const d = await down.t.exec(etcdctl(localClient(inv, inv.hosts[0]!), ['endpoint', 'health', '-w', 'json']));
    expect([d.code, d.stdout]).toEqual([1, '[{"health":false}]\n']);
  });

  it('a member still on plain http is reached on its loopback listener, with the certificate', async () => {
    const f = fakeBin({
      etcdctl:
        'case "$*" in *--endpoints=https://*) echo refused >&2; exit 1 ;; *"member list"*) cat "$FAKE/list" ;; esac',
    });
    writeFileSync(join(f.fake, 'list'), LIST);
    const r = await f.t.exec(memberUpdateScript(ctxFor(makeInventory(), 'pg1')));
    expect(r.code).toBe(0);
    const certs = '--cacert=/etc/etcd/tls/ca.crt --cert=/etc/etcd/tls/host.crt --key=/etc/etcd/tls/host.key';
    expect(f.calls().filter((c) => c.includes('127.0.0.1'))).toEqual([
      `etcdctl --endpoints=http://127.0.0.1:2379 ${certs} --dial-timeout=2s --command-timeout=4s member list -w simple`,
      `etcdctl --endpoints=http://127.0.0.1:2379 ${certs} --dial-timeout=2s --command-timeout=4s member update 8e9e05c52164694d --peer-urls=https://10.77.0.11:2380`,
    ]);
  });

  it('member update fails when the member is not listed, and its guard tells updated from not', async () => {
    const { t, calls } = fake(LIST.split('\n')[1]!);
    const r = await t.exec(memberUpdateScript(ctxFor(makeInventory(), 'pg1')));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('pg1 is not in the etcd member list');
    expect(calls().some((c) => c.includes('member update'))).toBe(false);
    const g = fake();
    expect((await g.t.exec(memberUpdatedTest(ctxFor(makeInventory(), 'pg1')))).code).not.toBe(0);
    expect((await g.t.exec(memberUpdatedTest(ctxFor(makeInventory(), 'pg2')))).code).toBe(0);
  });
});
