import { afterEach, describe, expect, it } from 'vitest';
import { patroniSteps } from '../../src/components/patroni/steps.js';
import { chooseApiMember } from '../../src/components/patroni/api-member.js';
import { withRole } from '../../src/components/common.js';
import type { Transport } from '../../src/engine/types.js';
import { LocalTransport } from '../engine/local-transport.js';
import { groupCtx, makeInventory, stepById } from './helpers.js';
import { testRunner } from './helpers.js';
import { startFakePatroni, type FakePatroni, pointAtFake } from './fake-patroni.js';

const dcsStep = stepById(patroniSteps, 'patroni.dcs');

let fake: FakePatroni | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** Three members on their own fake REST API; `connected` are the hosts with a transport (the others are down). */
async function setup(connected = ['pg1', 'pg2', 'pg3'], check = false) {
  fake = await startFakePatroni([
    { name: 'pg1', role: 'leader', pendingRestart: false },
    { name: 'pg2', role: 'replica', pendingRestart: false },
    { name: 'pg3', role: 'replica', pendingRestart: false },
  ]);
  const inv = makeInventory();
  for (const h of withRole(inv.hosts, 'postgres')) pointAtFake(h, fake.members.find((m) => m.name === h.name)!.port);
  const transports = new Map<string, Transport>(
    inv.hosts.filter((h) => connected.includes(h.name)).map((h) => [h.name, new LocalTransport(h)]),
  );
  const logs: string[] = [];
  const runner = testRunner(inv, transports, check, (l) => logs.push(l));
  const members = withRole(inv.hosts, 'postgres').filter((h) => connected.includes(h.name));
  return { inv, transports, runner, logs, members };
}

const patches = () => fake!.calls.filter((c) => c.method === 'PATCH').map((c) => `${c.member} ${c.path}`);

describe('PATCH /config from any healthy member', () => {
  it('goes through the first member when its REST API answers, once for the cluster', async () => {
    const { runner, logs, members } = await setup();
    const res = await runner.runStep(dcsStep, members);
    expect(res.map((r) => [r.host, r.changes.length])).toEqual([
      ['pg1', 1],
      ['pg2', 0],
      ['pg3', 0],
    ]);
    expect(patches()).toEqual(['pg1 /config']);
    expect(fake!.config).toMatchObject({ ttl: 8, loop_wait: 2, retry_timeout: 3 });
    expect(logs).toContain('PATCH /config runs on pg1 (its REST API answers)');
  });

  it('passes over a member whose Patroni is down, names it in the log, and the next run finds nothing to do', async () => {
    const { runner, logs, members } = await setup();
    await fake!.stop('pg1');
    const res = await runner.runStep(dcsStep, members);
    expect(res.map((r) => [r.host, r.changes.length])).toEqual([
      ['pg1', 0],
      ['pg2', 1],
      ['pg3', 0],
    ]);
    expect(patches()).toEqual(['pg2 /config']);
    expect(fake!.config).toMatchObject({ ttl: 8, loop_wait: 2, retry_timeout: 3 });
    expect(logs).toContain('PATCH /config runs on pg2 (passed over pg1: REST API does not answer)');
    const again = await runner.runStep(dcsStep, members);
    expect(again.map((r) => r.changes.length)).toEqual([0, 0, 0]);
    expect(patches()).toEqual(['pg2 /config']);
  });

  it('passes over a host that is not connected, and plans (check mode) on the member it chose', async () => {
    const { inv, transports, runner, logs, members } = await setup(['pg2', 'pg3'], true);
    await fake!.stop('pg2');
    const picked = await chooseApiMember(groupCtx(inv, transports, withRole(inv.hosts, 'postgres')), 'PATCH /config');
    expect(picked).toBe('pg3');
    const res = await runner.runStep(dcsStep, members);
    expect(res.map((r) => [r.host, r.changes.map((c) => c.summary)])).toEqual([
      ['pg2', []],
      ['pg3', [expect.stringContaining('PATCH /config')]],
    ]);
    expect(logs).toEqual(['PATCH /config would run on pg3 (passed over pg2: REST API does not answer)']);
    expect(patches()).toEqual([]); // check mode: nothing sent
  });

  it('says so when no member answers and no member is connected', async () => {
    const { inv, transports } = await setup(['pg2', 'pg3']);
    await fake!.stop('pg2');
    await fake!.stop('pg3');
    const logs: string[] = [];
    const g = { ...groupCtx(inv, transports, withRole(inv.hosts, 'postgres')), log: (l: string) => logs.push(l) };
    expect(await chooseApiMember(g, 'PATCH /config')).toBe('pg2');
    expect(logs).toEqual([
      "PATCH /config runs on pg2: no member's REST API answers (pg1: not connected; pg2: REST API does not answer; pg3: REST API does not answer)",
    ]);
    expect(await chooseApiMember({ ...g, transports: new Map() }, 'PATCH /config')).toBeUndefined();
    expect(logs[1]).toBe('PATCH /config is skipped: no member is connected');
  });
});
