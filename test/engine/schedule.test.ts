// The scheduler with fake steps: every unit of work waits until the test releases it, so what runs at the same time
// is observed, not timed.
import { describe, expect, it } from 'vitest';
import { Schedule, isGroupStep, needMatches, type StepRunner } from '../../src/engine/schedule.js';
import type { HostStepResult } from '../../src/engine/runner.js';
import type { Step } from '../../src/engine/types.js';
import type { Host } from '../../src/inventory/types.js';
import { RunError } from '../../src/util/errors.js';
import { fakeHost } from './local-transport.js';

const H = Object.fromEntries(['a', 'b', 'c', 'e'].map((n, i) => [n, fakeHost(n, `10.0.0.${i + 1}`)])) as Record<
  string,
  Host
>;
const hosts = (...names: string[]) => names.map((n) => H[n]!);

function plain(id: string, extra: Partial<Step> = {}): Step {
  return { id, title: id, resources: () => [], ...extra };
}

/** A runner whose units start when the schedule says and end when the test says. */
class FakeRunner implements StepRunner {
  /** "step@host" (or "step@*" for a group step), in start order. */
  readonly started: string[] = [];
  readonly ended: string[] = [];
  private pending = new Map<string, (err?: Error) => void>();
  running = 0;
  maxRunning = 0;

  private unit(key: string): Promise<Error | undefined> {
    this.started.push(key);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    return new Promise((resolve) =>
      this.pending.set(key, (err) => {
        this.running--;
        this.ended.push(key);
        resolve(err);
      }),
    );
  }

  async runHost(step: Step, host: Host): Promise<HostStepResult> {
    const err = await this.unit(`${step.id}@${host.name}`);
    return { host: host.name, step: step.id, changes: [], restarted: [], reloaded: [], reason: 'ok', error: err };
  }

  async runStep(step: Step, hs: Host[]): Promise<HostStepResult[]> {
    const err = await this.unit(`${step.id}@*`);
    if (err) throw new RunError(step.id, [{ host: hs[0]!.name, error: err }]);
    return hs.map((h) => ({ host: h.name, step: step.id, changes: [], restarted: [], reloaded: [], reason: 'ok' }));
  }

  /** Ends a running unit (with an error: it failed), then lets the schedule react. */
  async release(key: string, err?: Error): Promise<void> {
    const f = this.pending.get(key);
    if (!f) throw new Error(`${key} is not running (running: ${[...this.pending.keys()].join(', ')})`);
    this.pending.delete(key);
    f(err);
    await settle();
  }

  isRunning(key: string): boolean {
    return this.pending.has(key);
  }
}

const settle = () => new Promise<void>((r) => setTimeout(r, 0));

async function start(steps: { step: Step; hosts: Host[] }[]) {
  const runner = new FakeRunner();
  const events: string[] = [];
  let clock = 0;
  const sched = new Schedule(runner, steps, {
    events: {
      stepStart: (s) => events.push(`start ${s.id}`),
      stepDone: (s, rs) => events.push(`done ${s.id} ${rs.map((r) => r.host).join(',')}`),
    },
    now: () => clock++,
  });
  const run = sched.run();
  const outcome = run.then(
    () => 'ok' as const,
    (e: unknown) => e as Error,
  );
  await settle();
  return { runner, sched, outcome, events };
}

describe('schedule: which steps run over their whole group', () => {
  it('a step with before, verifyGroup, order, serial or barrier is a group step; a plain one is not', () => {
    expect(isGroupStep(plain('x'))).toBe(false);
    expect(isGroupStep(plain('x', { barrier: true }))).toBe(true);
    expect(isGroupStep(plain('x', { serial: true }))).toBe(true);
    expect(isGroupStep(plain('x', { before: async () => undefined }))).toBe(true);
    expect(isGroupStep(plain('x', { verifyGroup: async () => undefined }))).toBe(true);
    expect(isGroupStep(plain('x', { order: async () => [] }))).toBe(true);
  });

  it('a need names a step by id or a component by the prefix of its ids', () => {
    expect(needMatches('etcd', 'etcd.install')).toBe(true);
    expect(needMatches('etcd.start', 'etcd.start')).toBe(true);
    expect(needMatches('etcd', 'etcdx.install')).toBe(false);
    expect(needMatches('etcd.start', 'etcd.startx')).toBe(false);
  });
});

describe('schedule', () => {
  it('keeps each host in playbook order while another host of the same step moves on', async () => {
    const { runner, outcome } = await start([
      { step: plain('s.one'), hosts: hosts('a', 'b') },
      { step: plain('s.two'), hosts: hosts('a', 'b') },
    ]);
    expect(runner.started).toEqual(['s.one@a', 's.one@b']);
    await runner.release('s.one@b');
    // b goes on without waiting for a; a does not start its second step before its first is done.
    expect(runner.started).toEqual(['s.one@a', 's.one@b', 's.two@b']);
    await runner.release('s.two@b');
    expect(runner.isRunning('s.two@a')).toBe(false);
    await runner.release('s.one@a');
    expect(runner.isRunning('s.two@a')).toBe(true);
    await runner.release('s.two@a');
    expect(await outcome).toBe('ok');
  });

  it('runs the steps of disjoint hosts at the same time', async () => {
    const { runner, sched, outcome } = await start([
      { step: plain('db.install'), hosts: hosts('a', 'b') },
      { step: plain('lb.install'), hosts: hosts('c') },
      { step: plain('lb.config'), hosts: hosts('c') },
    ]);
    expect(runner.started.sort()).toEqual(['db.install@a', 'db.install@b', 'lb.install@c']);
    await runner.release('lb.install@c');
    expect(runner.isRunning('lb.config@c')).toBe(true); // while db.install still runs on a and b
    expect(runner.maxRunning).toBe(3);
    await runner.release('lb.config@c');
    await runner.release('db.install@a');
    await runner.release('db.install@b');
    expect(await outcome).toBe('ok');
    expect(sched.stepSeconds().map((s) => s.step)).toEqual(['db.install', 'lb.install', 'lb.config']);
  });

  it('starts a group step once every host of its group is done with the earlier steps', async () => {
    const { runner, outcome } = await start([
      { step: plain('s.install'), hosts: hosts('a', 'b') },
      { step: plain('s.form', { barrier: true }), hosts: hosts('a', 'b') },
      { step: plain('s.after'), hosts: hosts('a', 'b') },
    ]);
    await runner.release('s.install@a');
    expect(runner.started).not.toContain('s.form@*');
    await runner.release('s.install@b');
    expect(runner.isRunning('s.form@*')).toBe(true);
    expect(runner.started.filter((k) => k.startsWith('s.after'))).toEqual([]);
    await runner.release('s.form@*');
    expect(runner.started.filter((k) => k.startsWith('s.after')).sort()).toEqual(['s.after@a', 's.after@b']);
    await runner.release('s.after@a');
    await runner.release('s.after@b');
    expect(await outcome).toBe('ok');
  });

  it('waits for a declared need on other hosts, by step id or by component', async () => {
    for (const need of ['etcd.start', 'etcd']) {
      const { runner, outcome } = await start([
        { step: plain('etcd.install'), hosts: hosts('e') },
        { step: plain('etcd.start'), hosts: hosts('e') },
        { step: plain('pg.install'), hosts: hosts('a') },
        { step: plain('pg.config', { needs: [need] }), hosts: hosts('a') },
      ]);
      expect(runner.started.sort()).toEqual(['etcd.install@e', 'pg.install@a']);
      await runner.release('pg.install@a');
      expect(runner.isRunning('pg.config@a')).toBe(false); // etcd is not there yet
      await runner.release('etcd.install@e');
      expect(runner.isRunning('pg.config@a')).toBe(false);
      await runner.release('etcd.start@e');
      expect(runner.isRunning('pg.config@a')).toBe(true);
      await runner.release('pg.config@a');
      expect(await outcome).toBe('ok');
    }
  });

  it('without a need, a step on other hosts does not wait', async () => {
    const { runner, outcome } = await start([
      { step: plain('etcd.start'), hosts: hosts('e') },
      { step: plain('pg.config'), hosts: hosts('a') },
    ]);
    expect(runner.started.sort()).toEqual(['etcd.start@e', 'pg.config@a']);
    await runner.release('pg.config@a');
    await runner.release('etcd.start@e');
    expect(await outcome).toBe('ok');
  });

  it('a need names earlier steps only: one listed later does not hold the step back', async () => {
    const { runner, outcome } = await start([
      { step: plain('x.first', { needs: ['x.second'] }), hosts: hosts('a') },
      { step: plain('x.second'), hosts: hosts('b') },
    ]);
    expect(runner.started.sort()).toEqual(['x.first@a', 'x.second@b']);
    await runner.release('x.first@a');
    await runner.release('x.second@b');
    expect(await outcome).toBe('ok');
  });

  it('after a failure starts nothing new, lets the work in flight finish, then fails with the step and host', async () => {
    const { runner, outcome, sched, events } = await start([
      { step: plain('s.one'), hosts: hosts('a', 'b') },
      { step: plain('s.two'), hosts: hosts('a', 'b') },
      { step: plain('s.lb'), hosts: hosts('c') },
      { step: plain('s.lb2'), hosts: hosts('c') },
    ]);
    await runner.release('s.one@a', new Error('apt failed'));
    // b's first step and c's still run; nothing new starts (b's next step, c's next step).
    expect(runner.isRunning('s.one@b')).toBe(true);
    await runner.release('s.one@b');
    await runner.release('s.lb@c');
    expect(runner.started.sort()).toEqual(['s.lb@c', 's.one@a', 's.one@b']);
    const e = await outcome;
    expect(e).toBeInstanceOf(RunError);
    expect((e as RunError).step).toBe('s.one');
    expect((e as RunError).failures.map((f) => [f.host, f.error.message])).toEqual([['a', 'apt failed']]);
    expect(sched.nodes.map((n) => n.state)).toEqual(['failed', 'not run', 'done', 'not run']);
    expect(events).toContain('done s.one a,b');
    expect(await sched.nodes[1]!.settled).toBe('not run');
  });

  it('reports the failed hosts of the first failing step together', async () => {
    const { runner, outcome } = await start([{ step: plain('s.one'), hosts: hosts('a', 'b') }]);
    await runner.release('s.one@b', new Error('b broke'));
    await runner.release('s.one@a', new Error('a broke'));
    const e = (await outcome) as RunError;
    expect(e.failures.map((f) => f.host)).toEqual(['b', 'a']);
  });

  it('of steps failing together, the first in playbook order is the error; every one is kept', async () => {
    const { runner, outcome, sched } = await start([
      { step: plain('s.pg'), hosts: hosts('a') },
      { step: plain('s.lb', { barrier: true }), hosts: hosts('c') },
    ]);
    await runner.release('s.lb@*', new Error('port taken'));
    await runner.release('s.pg@a', new Error('member not running'));
    const e = (await outcome) as RunError;
    expect(e.step).toBe('s.pg');
    expect(sched.errors.map((x) => (x as RunError).step)).toEqual(['s.pg', 's.lb']);
  });

  it("a failed group step's own error ends the run", async () => {
    const { runner, outcome } = await start([
      { step: plain('g.form', { barrier: true }), hosts: hosts('a', 'b') },
      { step: plain('g.next'), hosts: hosts('a') },
    ]);
    await runner.release('g.form@*', new Error('no quorum'));
    const e = (await outcome) as RunError;
    expect(e.step).toBe('g.form');
    expect(runner.started).toEqual(['g.form@*']);
  });

  it('says when a plain step starts and when it is done on all its hosts', async () => {
    const { runner, outcome, events } = await start([{ step: plain('s.one'), hosts: hosts('a', 'b') }]);
    expect(events).toEqual(['start s.one']);
    await runner.release('s.one@b');
    expect(events).toEqual(['start s.one']);
    await runner.release('s.one@a');
    expect(events).toEqual(['start s.one', 'done s.one a,b']);
    expect(await outcome).toBe('ok');
  });
});
