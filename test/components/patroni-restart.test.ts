import { describe, expect, it } from 'vitest';
import { restartStep, noPendingRestartScript, restartScript } from '../../src/components/patroni/restart.js';
import { ctxFor, fakeTransport, groupCtx, makeInventory, SECRETS } from './helpers.js';
import { withRole } from '../../src/components/common.js';

function cluster(leaderPending: boolean) {
  const members = [
    { name: 'pg1', role: 'replica', state: 'running', host: '10.77.0.11', port: 5432, timeline: 1, lag: 0, pending_restart: true },
    { name: 'pg2', role: 'leader', state: 'running', host: '10.77.0.12', port: 5432, timeline: 1, ...(leaderPending ? { pending_restart: true } : {}) },
    { name: 'pg3', role: 'replica', state: 'running', host: '10.77.0.13', port: 5432, timeline: 1, lag: 0 },
  ];
  const inv = makeInventory();
  const transports = new Map(inv.hosts.map((h) => [h.name, fakeTransport(h, (s) => (s.includes('/cluster') ? { stdout: `HTTP/1.0 200 OK\r\n\r\n${JSON.stringify({ members })}` } : { code: 1 }))]));
  return { inv, ctx: groupCtx(inv, transports, withRole(inv.hosts, 'postgres')) };
}

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
    expect(r.unless).toBe(noPendingRestartScript(8008));
    expect(r.script).toBe(restartScript(8008));
    expect(r.script).not.toContain(SECRETS.patroni_api_password);
    expect(JSON.parse(r.stdin!)).toEqual({ user: 'patroni', password: SECRETS.patroni_api_password });
    expect(r.secrets).toEqual([SECRETS.patroni_api_password]);
  });

  it('waits after a parameter change only when the DCS or the config changed in this run', async () => {
    const { ctx } = cluster(false);
    const t0 = Date.now();
    await restartStep.before!({ ...ctx, changedInRun: () => [] });
    expect(Date.now() - t0).toBeLessThan(500);
    const t1 = Date.now();
    await restartStep.before!({ ...ctx, changedInRun: (id) => (id === 'patroni.dcs' ? ['pg1'] : []) });
    expect(Date.now() - t1).toBeGreaterThanOrEqual(4900); // 2 x loop_wait (2 s) + 1 s
  });
});
