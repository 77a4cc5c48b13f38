// The cluster commands' rules (switchover, failover, reinit) and their REST programs, against fake Patroni members
// on loopback reached through local transports, as the commands reach them through SSH.
import { afterEach, describe, expect, it } from 'vitest';
import { withRole } from '../../src/components/common.js';
import {
  failoverTarget,
  readClusterView,
  reinitScript,
  reinitTarget,
  switchoverTarget,
} from '../../src/components/patroni/switchover.js';
import { switchoverScript } from '../../src/components/patroni/restart.js';
import type { Transport } from '../../src/engine/types.js';
import { UserError } from '../../src/util/errors.js';
import { LocalTransport } from '../engine/local-transport.js';
import { groupCtx, makeInventory, SECRETS } from './helpers.js';
import { startFakePatroni, type FakePatroni, type MemberSpec, pointAtFake, fakeApi } from './fake-patroni.js';

let fake: FakePatroni | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const CRED = JSON.stringify({ user: 'patroni', password: SECRETS.patroni_api_password });

async function setup(spec: MemberSpec[]) {
  fake = await startFakePatroni(spec.map((m) => ({ restartingPolls: 0, ...m })));
  const inv = makeInventory();
  for (const h of withRole(inv.hosts, 'postgres')) pointAtFake(h, fake.members.find((m) => m.name === h.name)!.port);
  const transports = new Map<string, Transport>(
    withRole(inv.hosts, 'postgres').map((h) => [h.name, new LocalTransport(h)]),
  );
  const ctx = groupCtx(inv, transports, withRole(inv.hosts, 'postgres'));
  return { inv, ctx, transports, view: await readClusterView(ctx) };
}

const healthy: MemberSpec[] = [
  { name: 'pg1', role: 'replica', pendingRestart: false },
  { name: 'pg2', role: 'leader', pendingRestart: false },
  { name: 'pg3', role: 'sync_standby', pendingRestart: false },
];

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error('not refused');
}

describe('pgha switchover: whom to hand over to, and when it refuses', () => {
  it('without --to: the synchronous standby', async () => {
    const { ctx, view } = await setup(healthy);
    expect(view.streaming.sort()).toEqual(['pg1', 'pg3']);
    const t = switchoverTarget(ctx, view, undefined);
    expect([t.leader.name, t.candidate.name]).toEqual(['pg2', 'pg3']);
  });

  it('refuses a host that is not a member, and the leader itself (bad input)', async () => {
    const { ctx, view } = await setup(healthy);
    expect(refusal(() => switchoverTarget(ctx, view, 'lb1'))).toMatch(/lb1 is not a postgres member/);
    expect(refusal(() => switchoverTarget(ctx, view, 'nope'))).toMatch(/nope is not a postgres member/);
    expect(refusal(() => switchoverTarget(ctx, view, 'pg2'))).toMatch(/pg2 is the leader already/);
  });

  it('refuses a candidate that is not running', async () => {
    const { ctx, view } = await setup(healthy.map((m) => (m.name === 'pg1' ? { ...m, state: 'stopped' } : m)));
    expect(refusal(() => switchoverTarget(ctx, view, 'pg1'))).toMatch(/pg1 is stopped, not running/);
  });

  it('refuses a candidate that does not stream from the leader', async () => {
    const { ctx, view } = await setup(healthy.map((m) => (m.name === 'pg1' ? { ...m, streaming: false } : m)));
    expect(refusal(() => switchoverTarget(ctx, view, 'pg1'))).toMatch(/pg1 does not stream from the leader/);
  });

  it('refuses a candidate lagging more than maximum_lag_on_failover (from the DCS)', async () => {
    const { ctx, view } = await setup(healthy.map((m) => (m.name === 'pg1' ? { ...m, lag: 2_000_000 } : m)));
    expect(view.maxLag).toBe(1048576);
    expect(refusal(() => switchoverTarget(ctx, view, 'pg1'))).toMatch(
      /pg1 lags 2000000 bytes, more than maximum_lag_on_failover \(1048576\)/,
    );
  });

  it('refuses a candidate with the nofailover tag', async () => {
    const { ctx, view } = await setup(healthy.map((m) => (m.name === 'pg1' ? { ...m, nofailover: true } : m)));
    expect(refusal(() => switchoverTarget(ctx, view, 'pg1'))).toMatch(/pg1 has the nofailover tag/);
  });

  it('refuses when no replica is healthy', async () => {
    const { ctx, view } = await setup(healthy.map((m) => (m.role !== 'leader' ? { ...m, lag: 'unknown' } : m)));
    expect(refusal(() => switchoverTarget(ctx, view, undefined))).toMatch(/no healthy replica to hand over to/);
  });

  it('refuses without a healthy leader and points to failover', async () => {
    const { ctx, view } = await setup(healthy.map((m) => (m.role === 'leader' ? { ...m, state: 'stopped' } : m)));
    const err = (() => {
      try {
        switchoverTarget(ctx, view, 'pg3');
      } catch (e) {
        return e as UserError;
      }
    })();
    expect(err?.message).toMatch(/needs a running leader/);
    expect(err?.hint).toMatch(/pgha failover --to HOST/);
  });

  it('reads the cluster from a member whose API answers, not the first of the inventory', async () => {
    const { ctx } = await setup(healthy);
    await fake!.stop('pg1');
    const view = await readClusterView(ctx);
    expect(view.from).toBe('pg2');
  });

  it('its program POSTs /switchover with leader and candidate and waits for the new roles', async () => {
    const { view } = await setup(healthy);
    const api = fake!.members.find((m) => m.name === 'pg1')!.port; // any member's API
    const r = await new LocalTransport(makeInventory().hosts[0]!).exec(
      switchoverScript(fakeApi(api), { action: 'switchover', leader: 'pg2', candidate: 'pg3', pollSec: 0 }),
      { stdin: CRED },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const post = fake!.calls.find((c) => c.method === 'POST')!;
    expect([post.member, post.path, JSON.parse(post.body!)]).toEqual([
      'pg1',
      '/switchover',
      { leader: 'pg2', candidate: 'pg3' },
    ]);
    expect(post.auth).toMatch(/^Basic /);
    expect(fake!.members.map((m) => [m.name, m.role])).toEqual([
      ['pg1', 'replica'],
      ['pg2', 'replica'],
      ['pg3', 'leader'],
    ]);
    expect(view.cluster.members.length).toBe(3);
  });

  it('in synchronous mode, an explicit candidate that is not a synchronous standby is made one for the handover', async () => {
    await setup(healthy);
    fake!.config = { ...fake!.config, synchronous_mode: true };
    const api = fake!.members[0]!.port;
    const run = (widenSync: boolean) =>
      new LocalTransport(makeInventory().hosts[0]!).exec(
        switchoverScript(fakeApi(api), {
          action: 'switchover',
          leader: 'pg2',
          candidate: 'pg1',
          pollSec: 0,
          widenSync,
        }),
        { stdin: CRED },
      );
    // Without widening, Patroni refuses pg1 (pg3 is the synchronous standby).
    const refused = await run(false);
    expect(refused.stderr).toMatch(/412 candidate name does not match with sync_standby/);
    const r = await run(true);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/synchronous_node_count raised to 2/);
    const patches = fake!.calls.filter((c) => c.method === 'PATCH').map((c) => JSON.parse(c.body!));
    expect(patches).toEqual([{ synchronous_node_count: 2 }, { synchronous_node_count: null }]);
    expect('synchronous_node_count' in fake!.config).toBe(false);
    expect(fake!.members.find((m) => m.name === 'pg1')!.role).toBe('leader');
    expect(fake!.members.filter((m) => m.role === 'sync_standby')).toHaveLength(1);
  });

  it("its program fails with Patroni's answer when Patroni refuses", async () => {
    await setup(healthy);
    const api = fake!.members[0]!.port;
    const r = await new LocalTransport(makeInventory().hosts[0]!).exec(
      switchoverScript(fakeApi(api), { action: 'switchover', leader: 'pg1', candidate: 'pg3', pollSec: 0 }),
      { stdin: CRED },
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/412 leader name does not match/);
  });
});

describe('pgha failover: only without a healthy leader', () => {
  it('refuses with a running leader and points to switchover', async () => {
    const { ctx, view } = await setup(healthy);
    const err = (() => {
      try {
        failoverTarget(ctx, view, 'pg3');
      } catch (e) {
        return e as UserError;
      }
    })();
    expect(err?.message).toMatch(/pg2 is a running leader/);
    expect(err?.hint).toMatch(/pgha switchover --to pg3/);
  });

  it('refuses an unknown host (bad input) and an unhealthy candidate', async () => {
    const spec = healthy.map((m) =>
      m.role === 'leader' ? { ...m, state: 'stopped' } : m.name === 'pg1' ? { ...m, nofailover: true } : m,
    );
    const { ctx, view } = await setup(spec);
    expect(refusal(() => failoverTarget(ctx, view, 'pg9'))).toMatch(/pg9 is not a postgres member/);
    expect(refusal(() => failoverTarget(ctx, view, 'pg1'))).toMatch(/pg1 has the nofailover tag/);
    expect(failoverTarget(ctx, view, 'pg3').name).toBe('pg3');
  });
});

describe('pgha failover: its program', () => {
  it('POSTs /failover with the candidate only and waits until it leads', async () => {
    await setup(healthy.map((m) => (m.role === 'leader' ? { ...m, state: 'stopped' } : m)));
    const api = fake!.members[2]!.port;
    const r = await new LocalTransport(makeInventory().hosts[2]!).exec(
      switchoverScript(fakeApi(api), { action: 'failover', candidate: 'pg3', pollSec: 0 }),
      { stdin: CRED },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const post = fake!.calls.find((c) => c.method === 'POST')!;
    expect([post.member, post.path, JSON.parse(post.body!)]).toEqual(['pg3', '/failover', { candidate: 'pg3' }]);
    expect(fake!.members.find((m) => m.name === 'pg3')!.role).toBe('leader');
  });
});

describe('pgha reinit: one replica, rebuilt from a running leader', () => {
  it('refuses the leader, an unknown host, and a cluster without a running leader', async () => {
    const { ctx, view } = await setup(healthy);
    expect(refusal(() => reinitTarget(ctx, view, 'pg2'))).toMatch(/pg2 is the leader/);
    expect(refusal(() => reinitTarget(ctx, view, 'lb2'))).toMatch(/lb2 is not a postgres member/);
    expect(reinitTarget(ctx, view, 'pg1').name).toBe('pg1');
    await fake!.close();
    const down = await setup(healthy.map((m) => (m.role === 'leader' ? { ...m, state: 'stopped' } : m)));
    expect(refusal(() => reinitTarget(down.ctx, down.view, 'pg1'))).toMatch(/no running leader to clone from/);
  });

  it('its program POSTs /reinitialize on the member and waits until it runs again as a replica', async () => {
    await setup(healthy);
    const m = fake!.members[0]!;
    const r = await new LocalTransport(makeInventory().hosts[0]!).exec(reinitScript(fakeApi(m.port), { pollSec: 0 }), {
      stdin: CRED,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const seq = fake!.calls.map((c) => `${c.member} ${c.method} ${c.path}`);
    expect(seq.slice(seq.indexOf('pg1 POST /reinitialize'), seq.indexOf('pg1 POST /reinitialize') + 2)).toEqual([
      'pg1 POST /reinitialize',
      'pg1 GET /patroni',
    ]);
    expect(m.state).toBe('running');
  });

  it('its program fails when Patroni refuses (the leader)', async () => {
    await setup(healthy);
    const m = fake!.members[1]!;
    const r = await new LocalTransport(makeInventory().hosts[1]!).exec(reinitScript(fakeApi(m.port), { pollSec: 0 }), {
      stdin: CRED,
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/503 I am the leader/);
  });
});
