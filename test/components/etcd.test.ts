import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandResource, FileResource } from '../../src/engine/types.js';
import { etcdSteps, ETCD_DEFAULT_FILE, POLICY_RC_D } from '../../src/components/etcd/steps.js';
import { parseEndpointHealth, parseEndpointStatus, parseMemberList } from '../../src/components/etcd/facts.js';
import { etcdAgreement, reconcileMembers } from '../../src/components/etcd/checks.js';
import { CheckError } from '../../src/util/errors.js';
import { ctxFor, fakeTransport, groupCtx, makeInventory, plan, stepById } from './helpers.js';

/** These tests describe the plain-http cluster (tls_enabled: false); etcd-tls.test.ts covers TLS. */
const PLAIN = { tls_enabled: false };

const fx = (f: string) => readFileSync(join(fileURLToPath(new URL('./fixtures', import.meta.url)), f), 'utf8');
const env = (content: string) =>
  Object.fromEntries(
    content
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.split('=')[0], l.slice(l.indexOf('=') + 2, -1)]),
  );

describe('etcd install', () => {
  const step = stepById(etcdSteps, 'etcd.install');
  it('blocks the package start with a policy-rc.d before installing, then removes it', async () => {
    const res = await plan(step, ctxFor(makeInventory(PLAIN), 'pg1'), { etcdInstalled: false });
    expect(res.map((r) => r.kind)).toEqual(['file', 'packages', 'directory']);
    const policy = res[0] as FileResource;
    expect(policy.path).toBe(POLICY_RC_D);
    expect(policy.mode).toBe('0755');
    expect(policy.content).toMatch(/etcd\|etcd\.service.*exit 101/);
    expect(res[1]).toMatchObject({ names: ['etcd-server', 'etcd-client'] });
    // Removed by the next step (its guard is probed after the install applied); only pgha's own file.
    const rm = (
      await plan(stepById(etcdSteps, 'etcd.config'), ctxFor(makeInventory(PLAIN), 'pg1'), {
        etcdMember: false,
        etcdPeers: null,
      })
    )[0] as CommandResource;
    expect(rm.argv).toEqual(['rm', '-f', POLICY_RC_D]);
    expect(rm.unless).toContain('pgha-etcd');
    expect(res[2]).toMatchObject({ path: '/var/lib/etcd/pgha', owner: 'etcd', mode: '0700' });
  });
  it('needs no policy-rc.d once etcd-server is installed', async () => {
    const res = await plan(step, ctxFor(makeInventory(PLAIN), 'pg1'), { etcdInstalled: true });
    expect(res.some((r) => r.kind === 'file')).toBe(false);
  });
});

describe('etcd config', () => {
  const config = stepById(etcdSteps, 'etcd.config');
  const finalize = stepById(etcdSteps, 'etcd.finalize');
  it('is a rolling step', () => expect(config.serial).toBe(true));

  it('forms a new cluster when no member has data and no cluster answers', async () => {
    const [, f] = (await plan(config, ctxFor(makeInventory(PLAIN), 'pg2'), {
      etcdMember: false,
      etcdPeers: null,
    })) as FileResource[];
    expect(f!.path).toBe(ETCD_DEFAULT_FILE);
    const e = env(f!.content);
    expect(e.ETCD_INITIAL_CLUSTER_STATE).toBe('new');
    expect(e.ETCD_NAME).toBe('pg2');
    expect(e.ETCD_INITIAL_CLUSTER).toBe(
      'pg1=http://10.77.0.11:2380,pg2=http://10.77.0.12:2380,pg3=http://10.77.0.13:2380',
    );
    expect(e.ETCD_ADVERTISE_CLIENT_URLS).toBe('http://10.77.0.12:2379');
    expect(e.ETCD_LISTEN_CLIENT_URLS).toBe('http://10.77.0.12:2379,http://127.0.0.1:2379');
    expect(e.ETCD_INITIAL_ADVERTISE_PEER_URLS).toBe('http://10.77.0.12:2380');
    expect(e.ETCD_DATA_DIR).toBe('/var/lib/etcd/pgha');
    expect(e.ETCD_INITIAL_CLUSTER_TOKEN).toBe('pgha-demo');
    expect(f!.notify).toBeUndefined(); // nothing restarts before the cluster exists
  });

  it('never forms again once the member has data; restarts on change', async () => {
    const [, f] = (await plan(config, ctxFor(makeInventory(PLAIN), 'pg2'), {
      etcdMember: true,
      etcdPeers: null,
    })) as FileResource[];
    expect(env(f!.content).ETCD_INITIAL_CLUSTER_STATE).toBe('existing');
    expect(f!.notify).toEqual([{ service: 'etcd', action: 'restart' }]);
  });

  it('does not restart a formed member when only the member list changed (bootstrap-only lines)', async () => {
    const facts = { etcdMember: true, etcdPeers: null };
    const [, now] = (await plan(config, ctxFor(makeInventory(PLAIN), 'pg2'), facts)) as FileResource[];
    const inv = makeInventory(PLAIN);
    inv.hosts.push({ ...inv.hosts[0]!, name: 'pg4', address: '10.77.0.14', roles: ['etcd', 'postgres'] });
    const [, f] = (await plan(config, ctxFor(inv, 'pg2'), { ...facts, etcdDefault: now!.content })) as FileResource[];
    expect(env(f!.content).ETCD_INITIAL_CLUSTER).toContain('pg4=http://10.77.0.14:2380');
    expect(f!.content).not.toBe(now!.content);
    expect(f!.notify).toBeUndefined();
    const other = now!.content.replace('ETCD_HEARTBEAT_INTERVAL="100"', 'ETCD_HEARTBEAT_INTERVAL="200"');
    const [, g] = (await plan(config, ctxFor(inv, 'pg2'), { ...facts, etcdDefault: other })) as FileResource[];
    expect(g!.notify).toEqual([{ service: 'etcd', action: 'restart' }]);
  });

  it('joins (existing) when the member has no data but the cluster answers', async () => {
    const peers = parseMemberList(fx('memberlist.json'));
    const [, f] = (await plan(config, ctxFor(makeInventory(PLAIN), 'pg3'), {
      etcdMember: false,
      etcdPeers: peers,
    })) as FileResource[];
    expect(env(f!.content).ETCD_INITIAL_CLUSTER_STATE).toBe('existing');
  });

  it('finalize flips new to existing after formation, and a second run plans the very same file', async () => {
    const inv = makeInventory(PLAIN);
    const first = (
      (await plan(config, ctxFor(inv, 'pg1'), { etcdMember: false, etcdPeers: null })) as FileResource[]
    )[1]!;
    const fin = (
      (await plan(finalize, ctxFor(inv, 'pg1'), { etcdMember: true, etcdPeers: null })) as FileResource[]
    )[0]!;
    const second = (
      (await plan(config, ctxFor(inv, 'pg1'), { etcdMember: true, etcdPeers: null })) as FileResource[]
    )[1]!;
    expect(first.content).not.toBe(fin.content);
    expect(fin.notify).toBeUndefined();
    expect(second.content).toBe(fin.content); // run 2: config step sees no change
    expect(fin.content.replace('STATE="existing"', 'STATE="new"')).toBe(first.content);
  });
});

describe('etcd start', () => {
  const step = stepById(etcdSteps, 'etcd.start');
  it('starts unformed members without waiting for quorum, guarded by the member dir', async () => {
    const res = await plan(step, ctxFor(makeInventory(PLAIN), 'pg1'), { etcdMember: false });
    const cmd = res[0] as CommandResource;
    expect(cmd.script).toContain('systemctl restart --no-block etcd');
    expect(cmd.unless).toBe('test -d /var/lib/etcd/pgha/member');
    expect(res[1]).toEqual({ kind: 'service', name: 'etcd', enabled: true });
  });
  it('only keeps a formed member started', async () => {
    const res = await plan(step, ctxFor(makeInventory(PLAIN), 'pg1'), { etcdMember: true });
    expect(res).toEqual([{ kind: 'service', name: 'etcd', enabled: true, state: 'started' }]);
  });
});

describe('etcdctl JSON parsers (recorded from etcd 3.4.23)', () => {
  it('keeps uint64 ids exact', () => {
    const ml = parseMemberList(fx('memberlist.json'))!;
    // `member list -w simple` printed 9d0b4f07ad7541dd for e1, 69e805ee468427c5 for e3.
    expect(ml.members.find((m) => m.name === 'e1')!.id).toBe('9d0b4f07ad7541dd');
    expect(ml.members.find((m) => m.name === 'e3')!.id).toBe('69e805ee468427c5');
    expect(ml.memberId).toBe('9d0b4f07ad7541dd');
    expect(ml.clusterId).toBe(BigInt('11781583481586153177').toString(16));
    expect(ml.members.map((m) => m.name).sort()).toEqual(['e1', 'e2', 'e3']);
  });
  it('shows an added, unstarted member without a name', () => {
    const ml = parseMemberList(fx('memberlist-unstarted.json'))!;
    const un = ml.members.find((m) => m.peerURLs.includes('http://127.0.0.1:23804'))!;
    expect(un.name).toBe('');
    expect(un.clientURLs).toEqual([]);
  });
  it('reads endpoint status: one leader, one cluster id', () => {
    const st = parseEndpointStatus(fx('status.json'));
    expect(st).toHaveLength(3);
    expect(new Set(st.map((s) => s.leader))).toEqual(new Set(['9d0b4f07ad7541dd']));
    expect(new Set(st.map((s) => s.clusterId)).size).toBe(1);
    expect(st[0]!.version).toBe('3.4.23');
    expect(parseEndpointStatus(fx('status-one-down.json'))).toHaveLength(2);
  });
  it('reads endpoint health, including an unhealthy member', () => {
    expect(parseEndpointHealth(fx('health.json')).every((h) => h.health)).toBe(true);
    const down = parseEndpointHealth(fx('health-one-down.json'));
    expect(down.filter((h) => !h.health)).toEqual([
      { endpoint: 'http://127.0.0.1:23793', health: false, error: 'context deadline exceeded' },
    ]);
  });
  it('treats empty or foreign output as nothing', () => {
    expect(parseMemberList('')).toBeNull();
    expect(parseMemberList('Error: context deadline exceeded')).toBeNull();
    expect(parseEndpointStatus('[]')).toEqual([]);
    expect(parseEndpointHealth('garbage')).toEqual([]);
  });
});

describe('etcd membership checks across hosts', () => {
  const inv = makeInventory(PLAIN);
  const etcdHosts = inv.hosts.filter((h) => h.roles.includes('etcd'));
  // Recorded outputs with ids/urls rewritten to the inventory's members.
  const rename = (s: string) =>
    s.replaceAll('127.0.0.1:2379', '10.77.0.1').replaceAll('127.0.0.1:2380', '10.77.0.1').replaceAll('"e', '"pg');
  const statusFor = (text: string, clusterId?: string) =>
    clusterId ? text.replaceAll('11781583481586153177', clusterId) : text;

  it('reports a member whose data belongs to another cluster', async () => {
    const t = new Map(
      etcdHosts.map((h, i) => [
        h.name,
        fakeTransport(h, () => ({
          stdout: `yes\n---pgha-split---\n${JSON.stringify([JSON.parse(statusFor(fx('status.json'), i === 2 ? '42' : undefined))[0]])}\n---pgha-split---\n${fx('memberlist.json')}`,
        })),
      ]),
    );
    const err = await reconcileMembers(groupCtx(inv, t, etcdHosts)).catch((e) => e);
    expect(err).toBeInstanceOf(CheckError);
    expect((err as CheckError).host).toBe('pg3');
    expect((err as CheckError).actual).toContain('2a'); // 42 in hex
  });

  it('adds a member that has no data to the running cluster (not in check mode)', async () => {
    const ml = rename(fx('memberlist.json')).replace(
      /"name":"pg3","peerURLs":\["http:\/\/10.77.0.13"\]/,
      '"name":"pg3","peerURLs":["http://10.77.0.13:2380"]',
    );
    const list = JSON.parse(ml.replace(/:(\d{16,})/g, ':"$1"'));
    // pg3 lost its data: its old entry must be removed, then it is added again.
    list.members = list.members.map((m: { name: string; peerURLs: string[] }) => ({
      ...m,
      peerURLs: [`http://10.77.0.1${m.name.slice(2)}:2380`],
    }));
    const mlText = JSON.stringify(list).replace(/"(\d{16,})"/g, '$1');
    const status = fx('status.json');
    const transports = new Map(
      etcdHosts.map((h) => [
        h.name,
        fakeTransport(h, (script) => {
          if (script.includes('member remove') || script.includes('member add')) return { stdout: 'ok' };
          if (h.name === 'pg3') return { stdout: 'no\n---pgha-split---\n\n---pgha-split---\n' };
          return { stdout: `yes\n---pgha-split---\n${status}\n---pgha-split---\n${mlText}` };
        }),
      ]),
    );
    await reconcileMembers({ ...groupCtx(inv, transports, etcdHosts), check: true });
    expect([...transports.values()].flatMap((t) => t.scripts).some((s) => s.includes('member add'))).toBe(false);
    await reconcileMembers(groupCtx(inv, transports, etcdHosts));
    const cmds = [...transports.values()].flatMap((t) => t.scripts).filter((s) => s.includes('member add'));
    expect(cmds).toHaveLength(1);
    expect(cmds[0]).toContain('member remove');
    expect(cmds[0]).toContain('member add pg3 --peer-urls=http://10.77.0.13:2380');
  });

  it('leaves a member that is not connected alone (never taken for one that lost its data), and adds through a running one', async () => {
    const status = fx('status.json');
    const list = JSON.parse(rename(fx('memberlist.json')).replace(/:(\d{16,})/g, ':"$1"'));
    list.members = list.members
      .filter((m: { name: string }) => m.name !== 'pg2')
      .map((m: { name: string }) => ({ ...m, peerURLs: [`http://10.77.0.1${m.name.slice(2)}:2380`] }));
    const mlText = JSON.stringify(list).replace(/"(\d{16,})"/g, '$1');
    const answer = (h: { name: string }) =>
      fakeTransport(h as never, (script) => {
        if (script.includes('member add')) return { stdout: 'ok' };
        if (h.name === 'pg2') return { stdout: 'no\n---pgha-split---\n\n---pgha-split---\n' };
        return { stdout: `yes\n---pgha-split---\n${status}\n---pgha-split---\n${mlText}` };
      });
    // pg1 is down (no connection); pg2 is new; pg3 runs: pg2 is added through pg3, pg1 is not touched.
    const transports = new Map(etcdHosts.filter((h) => h.name !== 'pg1').map((h) => [h.name, answer(h)]));
    const logs: string[] = [];
    await reconcileMembers({ ...groupCtx(inv, transports, etcdHosts), log: (l) => logs.push(l) });
    const adds = [...transports.entries()].flatMap(([n, t]) =>
      t.scripts.filter((s) => s.includes('member add')).map((s) => [n, s]),
    );
    expect(adds).toHaveLength(1);
    expect(adds[0]![0]).toBe('pg3');
    expect(adds[0]![1]).toContain('member add pg2 --peer-urls=http://10.77.0.12:2380');
    expect(adds[0]![1]).not.toContain('member remove');
    expect(logs).toEqual([
      'pg1 is not connected: its etcd membership is left as it is',
      'add pg2 (http://10.77.0.12:2380) to the etcd cluster',
    ]);
  });

  it('agreement: healthy recorded cluster passes only when names match the inventory', async () => {
    const three = inv.hosts.filter((h) => h.roles.includes('etcd'));
    const tr = (ml: string) =>
      new Map(
        three.map((h) => [
          h.name,
          fakeTransport(h, () => ({
            stdout: `${ml}\n---pgha-split---\n${fx('status.json')}\n---pgha-split---\n${fx('health.json')}`,
          })),
        ]),
      );
    const ok = await etcdAgreement(
      groupCtx(inv, tr(fx('memberlist.json').replaceAll('"name":"e', '"name":"pg')), three),
    );
    expect(ok).toMatchObject({ ok: true, leader: '9d0b4f07ad7541dd' });
    const bad = await etcdAgreement(groupCtx(inv, tr(fx('memberlist.json')), three));
    expect(bad.ok).toBe(false);
    expect(bad.problem).toContain('member list');
    void rename;
  });
});
