// The scheduler driving the real runner on this machine (sh): files written by real apply scripts, a rolling step in
// its stated order, changedInRun across a declared need, and a failed host's report.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Schedule } from '../../src/engine/schedule.js';
import { RunError } from '../../src/util/errors.js';
import type { Step, Transport } from '../../src/engine/types.js';
import { LocalTransport, fakeHost, fakeInventory, testRunner } from './local-transport.js';

function setup(names: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-schedule-'));
  const hosts = names.map((n, i) => fakeHost(n, `10.0.0.${i + 1}`));
  const inv = fakeInventory(dir, hosts);
  const transports = new Map<string, Transport>(hosts.map((h) => [h.name, new LocalTransport(h)]));
  const log = join(dir, 'order.log');
  writeFileSync(log, '');
  /** A step that appends "id host" to the log on each host (a command resource: a real apply). */
  const step = (id: string, extra: Partial<Step> = {}): Step => ({
    id,
    title: id,
    resources: (ctx) => [{ kind: 'command', label: `log ${id}`, script: `echo '${id} ${ctx.host.name}' >> ${log}` }],
    ...extra,
  });
  const lines = () => readFileSync(log, 'utf8').trim().split('\n');
  return { dir, hosts, inv, transports, step, lines };
}

describe('schedule with the runner', () => {
  it('runs a rolling step one host at a time in its stated order, between the plain steps of its hosts', async () => {
    const { dir, hosts, inv, transports, step, lines } = setup(['a', 'b', 'c']);
    const r = testRunner(inv, transports, { dir });
    const rolling = step('r.roll', { serial: true, order: async (g) => [...g.hosts].reverse() });
    await new Schedule(r, [
      { step: step('r.before'), hosts },
      { step: rolling, hosts },
      { step: step('r.after'), hosts },
    ]).run();
    const got = lines();
    expect(got.filter((l) => l.startsWith('r.roll'))).toEqual(['r.roll c', 'r.roll b', 'r.roll a']);
    // Every host did r.before before the rolling step started, and r.after only once it was over.
    const at = (l: string) => got.indexOf(l);
    for (const h of ['a', 'b', 'c']) {
      expect(at(`r.before ${h}`)).toBeLessThan(at('r.roll c'));
      expect(at(`r.after ${h}`)).toBeGreaterThan(at('r.roll a'));
    }
    expect(
      r.results
        .filter((x) => x.step === 'r.after')
        .map((x) => x.host)
        .sort(),
    ).toEqual(['a', 'b', 'c']);
  });

  it("a step's changedInRun sees the hosts a step it needs changed on other hosts", async () => {
    const { dir, hosts, inv, transports, step } = setup(['a', 'b']);
    const r = testRunner(inv, transports, { dir });
    let seen: string[] = [];
    const later: Step = {
      id: 'y.check',
      title: 'check',
      needs: ['x'],
      resources: () => [],
      before: async (g) => void (seen = g.changedInRun('x.work').sort()),
    };
    await new Schedule(r, [
      { step: step('x.work'), hosts },
      { step: later, hosts: [hosts[0]!] },
    ]).run();
    expect(seen).toEqual(['a', 'b']);
  });

  it("a failed host's error reaches the run as a RunError naming the step and host", async () => {
    const { dir, hosts, inv, transports, step } = setup(['a', 'b']);
    const r = testRunner(inv, transports, { dir });
    const broken: Step = {
      id: 'z.broken',
      title: 'broken',
      resources: (ctx) => [
        { kind: 'command', label: 'fail on b', script: ctx.host.name === 'b' ? 'echo nope >&2; exit 3' : 'true' },
      ],
    };
    const e = await new Schedule(r, [
      { step: broken, hosts },
      { step: step('z.next'), hosts },
    ])
      .run()
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    expect(e).toBeInstanceOf(RunError);
    expect((e as RunError).step).toBe('z.broken');
    expect((e as RunError).failures.map((f) => f.host)).toEqual(['b']);
    expect((e as RunError).failures[0]!.error.message).toMatch(/exit 3/);
    // Host a may have gone on to z.next before b failed, or not: b never did.
    expect(r.results.some((x) => x.step === 'z.next' && x.host === 'b')).toBe(false);
    expect(r.results.find((x) => x.step === 'z.broken' && x.host === 'b')?.reason).toBe('failed');
  });
});
