import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  makeRestartStep,
  restartStep,
  noPendingRestartScript,
  restartScript,
} from '../../src/components/patroni/restart.js';
import { ctxFor, groupCtx, makeInventory, SECRETS } from './helpers.js';
import { testRunner } from './helpers.js';
import { withRole } from '../../src/components/common.js';
import type { Transport } from '../../src/engine/types.js';
import { LocalTransport } from '../engine/local-transport.js';
import { useFakeClock } from '../engine/fake-clock.js';
import { startFakePatroni, type FakePatroni, type MemberSpec, pointAtFake, fakeApi } from './fake-patroni.js';

const clock = useFakeClock();

let fake: FakePatroni | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** Runs a generated script with sh on this machine. */
async function run(script: string, stdin = '') {
  return await new LocalTransport(ctxFor(makeInventory(), 'pg1').host).exec(script, { stdin });
}
const CRED = JSON.stringify({ user: 'patroni', password: SECRETS.patroni_api_password });

describe('patroni rolling restart: the wait after a parameter change', () => {
  it('waits only when the DCS or the config changed in this run', async () => {
    const inv = makeInventory();
    const ctx = groupCtx(inv, new Map(), withRole(inv.hosts, 'postgres'));
    await restartStep.before!({ ...ctx, changedInRun: () => [] });
    expect(clock.current().sleeps).toEqual([]);
    await restartStep.before!({ ...ctx, changedInRun: (id) => (id === 'patroni.dcs' ? ['pg1'] : []) });
    expect(clock.current().sleeps).toEqual([5000]); // 2 x loop_wait (2 s) + 1 s
  });
});

describe('patroni restart scripts against a fake REST API (python3)', () => {
  const member = async (m: Omit<MemberSpec, 'name'>) => {
    fake = await startFakePatroni([{ name: 'pg1', ...m }]);
    return fake.members[0]!;
  };

  it('the guard passes (nothing to do) only when GET /patroni shows no pending restart', async () => {
    const m = await member({ role: 'replica', pendingRestart: true });
    expect((await run(noPendingRestartScript(fakeApi(m.port)))).code).toBe(1);
    m.pendingRestart = false;
    expect((await run(noPendingRestartScript(fakeApi(m.port)))).code).toBe(0);
    expect(fake!.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /patroni', 'GET /patroni']);
  });

  it('POSTs /restart with Basic auth from stdin, then waits until the member runs again', async () => {
    const m = await member({ role: 'replica', pendingRestart: true });
    const r = await run(restartScript(fakeApi(m.port), { pollSec: 0 }), CRED);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('restarted successfully');
    const post = fake!.calls.find((c) => c.method === 'POST')!;
    expect(post).toMatchObject({
      path: '/restart',
      auth: `Basic ${Buffer.from(`patroni:${SECRETS.patroni_api_password}`).toString('base64')}`,
    });
    // It polled past "restarting" until "running".
    expect(fake!.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['POST /restart', 'GET /patroni', 'GET /patroni']);
    expect(m.state).toBe('running');
  });

  it('fails when Patroni cannot start the member (503), without waiting', async () => {
    const m = await member({ role: 'replica', pendingRestart: true, restart: 'start failed' });
    const r = await run(restartScript(fakeApi(m.port), { pollSec: 0 }), CRED);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/HTTP Error 503/);
    expect(fake!.calls.filter((c) => c.method === 'GET')).toEqual([]);
  });

  it('fails, saying so, when the member does not come back to running in time', async () => {
    const m = await member({ role: 'replica', pendingRestart: true, restart: 'hangs' });
    const r = await run(restartScript(fakeApi(m.port), { timeoutSec: 0.3, pollSec: 0.05 }), CRED);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('member did not come back to running in time');
    expect(fake!.calls.filter((c) => c.method === 'GET').length).toBeGreaterThan(1);
  });

  it('fails when the credentials are refused (401)', async () => {
    const m = await member({ role: 'replica', pendingRestart: true });
    const r = await run(
      restartScript(fakeApi(m.port), { pollSec: 0 }).replace('"Authorization": "Basic " + auth', '"X-None": "x"'),
      CRED,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/HTTP Error 401/);
    expect(m.pendingRestart).toBe(true);
  });
});

describe('patroni rolling restart, run by the runner against fake members', () => {
  const restore = process.env.PATH;
  afterEach(() => {
    process.env.PATH = restore;
  });

  /** pg_settings as every member's PostgreSQL reports it: a fake `runuser` on PATH prints the rows. */
  function fakeSettings(rows: object[]): void {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-runuser-'));
    writeFileSync(join(dir, 'rows.json'), JSON.stringify(rows));
    writeFileSync(join(dir, 'runuser'), `#!/bin/sh\ncat ${join(dir, 'rows.json')}\n`, { mode: 0o755 });
    process.env.PATH = `${dir}:${restore}`;
  }
  const ROWS = [
    {
      name: 'shared_buffers',
      setting: '16384',
      unit: '8kB',
      context: 'postmaster',
      vartype: 'integer',
      pending: false,
    },
    { name: 'max_connections', setting: '200', unit: '', context: 'postmaster', vartype: 'integer', pending: false },
    { name: 'work_mem', setting: '4096', unit: 'kB', context: 'user', vartype: 'integer', pending: false },
  ];

  /** An inventory whose postgres hosts reach their own fake REST API on 127.0.0.1. */
  async function setup(spec: MemberSpec[], vars: Record<string, unknown> = {}, check = false) {
    // Members come back at once: the step runs the production script, which looks again only after a second.
    fake = await startFakePatroni(spec.map((m) => ({ restartingPolls: 0, ...m })));
    fakeSettings(ROWS);
    const inv = makeInventory(vars);
    for (const h of withRole(inv.hosts, 'postgres')) pointAtFake(h, fake.members.find((m) => m.name === h.name)!.port);
    const transports = new Map<string, Transport>(inv.hosts.map((h) => [h.name, new LocalTransport(h)]));
    const logs: string[] = [];
    const runner = testRunner(inv, transports, check, (l, host) => void (host ? undefined : logs.push(l)));
    return { inv, runner, logs };
  }
  const posts = () =>
    fake!.calls
      .filter((c) => c.method === 'POST')
      .map((c) => `${c.member} ${c.path}${c.body && c.body !== '{}' ? ` ${JSON.stringify(JSON.parse(c.body))}` : ''}`);
  const cluster: MemberSpec[] = [
    { name: 'pg1', role: 'replica', pendingRestart: false },
    { name: 'pg2', role: 'leader', pendingRestart: false },
    { name: 'pg3', role: 'sync_standby', pendingRestart: false },
  ];

  it('raising shared_buffers: replicas first, then a switchover to the synchronous standby; no write outage', async () => {
    const { inv, runner } = await setup(cluster, { postgres_parameters: { shared_buffers: '256MB' } });
    const results = await runner.runStep(restartStep, withRole(inv.hosts, 'postgres'));
    expect(results.map((r) => [r.host, r.changes.length])).toEqual([
      ['pg1', 1],
      ['pg3', 1],
      ['pg2', 1],
    ]);
    // The demotion restarted the old leader: no pending restart was left, so no POST /restart on it.
    expect(posts()).toEqual(['pg1 /restart', 'pg3 /restart', 'pg2 /switchover {"candidate":"pg3","leader":"pg2"}']);
    expect(fake!.members.map((m) => [m.name, m.role])).toEqual([
      ['pg1', 'replica'],
      ['pg2', 'replica'],
      ['pg3', 'leader'],
    ]);
  });

  it('lowering max_connections: the leader first, in place, then the replicas', async () => {
    const { inv, runner } = await setup(cluster, { postgres_parameters: { max_connections: 100 } });
    await runner.runStep(restartStep, withRole(inv.hosts, 'postgres'));
    expect(posts()).toEqual(['pg2 /restart', 'pg1 /restart', 'pg3 /restart']);
  });

  it('patroni_restart_in_place: the leader last, restarted in place', async () => {
    const { inv, runner } = await setup(cluster, {
      postgres_parameters: { shared_buffers: '256MB' },
      patroni_restart_in_place: true,
    });
    await runner.runStep(restartStep, withRole(inv.hosts, 'postgres'));
    expect(posts()).toEqual(['pg1 /restart', 'pg3 /restart', 'pg2 /restart']);
  });

  it('a reload-only change (work_mem) restarts nobody', async () => {
    const { inv, runner, logs } = await setup(cluster, { postgres_parameters: { work_mem: '8MB' } });
    await runner.runStep(restartStep, withRole(inv.hosts, 'postgres'));
    expect(posts()).toEqual([]);
    expect(logs).toContain('pg1: reload only, no restart: work_mem 4MB -> 8MB (context user)');
  });

  it('plan says who restarts, in which order, why, and that a switchover comes first; it changes nothing', async () => {
    const { inv, runner, logs } = await setup(cluster, { postgres_parameters: { shared_buffers: '256MB' } }, true);
    const results = await runner.runStep(restartStep, withRole(inv.hosts, 'postgres'));
    const why = 'because shared_buffers 128MB -> 256MB (context postmaster: restart)';
    expect(logs).toEqual([
      'would restart 3 members, in this order:',
      `  1. pg1: replica, before the leader; ${why}`,
      `  2. pg3: replica, before the leader; ${why}`,
      `  3. pg2 (leader): leader last: switchover to pg3 (synchronous standby) first, then restarted as a replica if still pending; ${why}`,
    ]);
    expect(results.map((r) => r.changes[0]?.summary)).toEqual([
      `run: restart PostgreSQL through Patroni (replica, before the leader; ${why})`,
      `run: restart PostgreSQL through Patroni (replica, before the leader; ${why})`,
      `run: switchover to pg3, then restart as a replica if still pending (leader last: switchover to pg3 (synchronous standby) first, then restarted as a replica if still pending; ${why})`,
    ]);
    expect(posts()).toEqual([]);
  });

  it('pgha restart: every selected member, even without a pending restart; --in-place keeps the leader', async () => {
    const { inv, runner } = await setup(cluster);
    await runner.runStep(makeRestartStep({ force: 'asked', inPlace: true }), withRole(inv.hosts, 'postgres'));
    expect(posts()).toEqual(['pg1 /restart', 'pg3 /restart', 'pg2 /restart']);
  });

  it('stops at a member that fails to restart: the members after it are not restarted', async () => {
    const { inv, runner } = await setup(
      cluster.map((m) => (m.name === 'pg1' ? { ...m, restart: 'start failed' as const } : m)),
      { postgres_parameters: { shared_buffers: '256MB' } },
    );
    const err = await runner.runStep(restartStep, withRole(inv.hosts, 'postgres')).catch((e) => e);
    expect(err?.constructor?.name).toBe('RunError');
    expect(String(err.message)).toContain('pg1');
    expect(posts()).toEqual(['pg1 /restart']);
  });
});
