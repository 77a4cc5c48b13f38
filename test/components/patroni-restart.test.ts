import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { restartStep, noPendingRestartScript, restartScript } from '../../src/components/patroni/restart.js';
import { ctxFor, fakeTransport, groupCtx, makeInventory, SECRETS } from './helpers.js';
import { withRole } from '../../src/components/common.js';
import { Runner } from '../../src/engine/runner.js';
import type { Transport } from '../../src/engine/types.js';
import { LocalTransport } from '../engine/local-transport.js';
import { useFakeClock } from '../engine/fake-clock.js';
import { startFakePatroni, type FakePatroni, type MemberSpec } from './fake-patroni.js';

const clock = useFakeClock();

function cluster(leaderPending: boolean) {
  const members = [
    {
      name: 'pg1',
      role: 'replica',
      state: 'running',
      host: '10.77.0.11',
      port: 5432,
      timeline: 1,
      lag: 0,
      pending_restart: true,
    },
    {
      name: 'pg2',
      role: 'leader',
      state: 'running',
      host: '10.77.0.12',
      port: 5432,
      timeline: 1,
      ...(leaderPending ? { pending_restart: true } : {}),
    },
    { name: 'pg3', role: 'replica', state: 'running', host: '10.77.0.13', port: 5432, timeline: 1, lag: 0 },
  ];
  const inv = makeInventory();
  const transports = new Map(
    inv.hosts.map((h) => [
      h.name,
      fakeTransport(h, (s) =>
        s.includes('/cluster') ? { stdout: `HTTP/1.0 200 OK\r\n\r\n${JSON.stringify({ members })}` } : { code: 1 },
      ),
    ]),
  );
  return { inv, ctx: groupCtx(inv, transports, withRole(inv.hosts, 'postgres')) };
}

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

describe('patroni rolling restart', () => {
  it('visits replicas first and the leader last', async () => {
    const { ctx } = cluster(false);
    expect((await restartStep.order!(ctx)).map((h) => h.name)).toEqual(['pg1', 'pg3', 'pg2']);
  });

  it('visits the replicas again after a leader that waits for a restart (a lowered setting takes there only then)', async () => {
    const { ctx } = cluster(true);
    expect((await restartStep.order!(ctx)).map((h) => h.name)).toEqual(['pg1', 'pg3', 'pg2', 'pg1', 'pg3']);
  });

  it('restarts only when the member reports a pending restart, with the credentials on stdin', async () => {
    const inv = makeInventory();
    const [r] = await restartStep.resources(ctxFor(inv, 'pg1'), {});
    expect(r.kind).toBe('command');
    if (r.kind !== 'command') return;
    expect(r.script).not.toContain(SECRETS.patroni_api_password);
    expect(JSON.parse(r.stdin!)).toEqual({ user: 'patroni', password: SECRETS.patroni_api_password });
    expect(r.secrets).toEqual([SECRETS.patroni_api_password]);
    // The guard and the script are the ones this module generates for the member's REST API port (run below).
    expect(r.unless).toContain('127.0.0.1:8008/patroni');
    expect(r.script).toContain('127.0.0.1:8008');
  });

  it('waits after a parameter change only when the DCS or the config changed in this run', async () => {
    const { ctx } = cluster(false);
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
    expect((await run(noPendingRestartScript(m.port))).code).toBe(1);
    m.pendingRestart = false;
    expect((await run(noPendingRestartScript(m.port))).code).toBe(0);
    expect(fake!.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /patroni', 'GET /patroni']);
  });

  it('POSTs /restart with Basic auth from stdin, then waits until the member runs again', async () => {
    const m = await member({ role: 'replica', pendingRestart: true });
    const r = await run(restartScript(m.port, { pollSec: 0 }), CRED);
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
    const r = await run(restartScript(m.port, { pollSec: 0 }), CRED);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/HTTP Error 503/);
    expect(fake!.calls.filter((c) => c.method === 'GET')).toEqual([]);
  });

  it('fails, saying so, when the member does not come back to running in time', async () => {
    const m = await member({ role: 'replica', pendingRestart: true, restart: 'hangs' });
    const r = await run(restartScript(m.port, { timeoutSec: 0.3, pollSec: 0.05 }), CRED);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('member did not come back to running in time');
    expect(fake!.calls.filter((c) => c.method === 'GET').length).toBeGreaterThan(1);
  });

  it('fails when the credentials are refused (401)', async () => {
    const m = await member({ role: 'replica', pendingRestart: true });
    const r = await run(
      restartScript(m.port, { pollSec: 0 }).replace('"Authorization": "Basic " + auth', '"X-None": "x"'),
      CRED,
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/HTTP Error 401/);
    expect(m.pendingRestart).toBe(true);
  });
});

describe('patroni rolling restart, run by the runner against fake members', () => {
  /** An inventory whose postgres hosts reach their own fake REST API on 127.0.0.1. */
  async function setup(spec: MemberSpec[]) {
    // Members come back at once: the step runs the production script, which looks again only after a second.
    fake = await startFakePatroni(spec.map((m) => ({ restartingPolls: 0, ...m })));
    const inv = makeInventory();
    for (const h of withRole(inv.hosts, 'postgres'))
      h.vars = { ...h.vars, patroni_restapi_port: fake.members.find((m) => m.name === h.name)!.port };
    const transports = new Map<string, Transport>(inv.hosts.map((h) => [h.name, new LocalTransport(h)]));
    const runner = new Runner({
      inventory: inv,
      secrets: SECRETS,
      transports,
      check: false,
      diff: false,
      events: {},
      pendingDir: join(mkdtempSync(join(tmpdir(), 'pgha-restart-')), 'notify'),
    });
    return { inv, runner };
  }

  it('restarts the pending replicas one at a time and leaves the rest alone', async () => {
    const { inv, runner } = await setup([
      { name: 'pg1', role: 'replica', pendingRestart: true },
      { name: 'pg2', role: 'leader', pendingRestart: false },
      { name: 'pg3', role: 'replica', pendingRestart: true },
    ]);
    const results = await runner.runStep(restartStep, withRole(inv.hosts, 'postgres'));
    expect(results.map((r) => [r.host, r.changes.length])).toEqual([
      ['pg1', 1],
      ['pg3', 1],
      ['pg2', 0],
    ]);
    expect(fake!.restarts()).toEqual(['pg1', 'pg3']);
    // One at a time: pg1 ran again before pg3 was asked to restart.
    const seq = fake!.calls.map((c) => `${c.member} ${c.method} ${c.path}`);
    expect(seq.indexOf('pg3 POST /restart')).toBeGreaterThan(seq.lastIndexOf('pg1 GET /patroni'));
  });

  it('stops at a member that fails to restart: the members after it are not restarted', async () => {
    const { inv, runner } = await setup([
      { name: 'pg1', role: 'replica', pendingRestart: true, restart: 'start failed' },
      { name: 'pg2', role: 'leader', pendingRestart: false },
      { name: 'pg3', role: 'replica', pendingRestart: true },
    ]);
    const err = await runner.runStep(restartStep, withRole(inv.hosts, 'postgres')).catch((e) => e);
    expect(err?.constructor?.name).toBe('RunError');
    expect(String(err.message)).toContain('pg1');
    expect(fake!.restarts()).toEqual(['pg1']);
    expect(fake!.members.find((m) => m.name === 'pg3')!.pendingRestart).toBe(true);
  });
});
