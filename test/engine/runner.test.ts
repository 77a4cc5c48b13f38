// The runner against this machine (sh) with recorded-free, real scripts: round trips per step, rolling order,
// failure reports.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Runner } from '../../src/engine/runner.js';
import { RunError } from '../../src/util/errors.js';
import type { Step, Transport } from '../../src/engine/types.js';
import { LocalTransport, fakeHost, fakeInventory, testRunner } from './local-transport.js';

const dir = mkdtempSync(join(tmpdir(), 'pgha-runner-'));

function setup(names: string[]) {
  const hosts = names.map((n, i) => fakeHost(n, `10.0.0.${i + 1}`));
  const inv = fakeInventory(dir, hosts);
  const transports = new Map<string, Transport>(hosts.map((h) => [h.name, new LocalTransport(h)]));
  return { hosts, inv, transports };
}

describe('runner', () => {
  it('reads facts and probes in one round trip when the guess covers the resources', async () => {
    const { hosts, inv, transports } = setup(['a']);
    const f = join(dir, 'one.txt');
    const step: Step = {
      id: 's.facts',
      title: 'facts',
      facts: () => ({ word: { script: 'echo hello', parse: (o) => o.trim() } }),
      resources: (_ctx, facts) => [{ kind: 'file', path: f, content: `${facts.word ?? 'x'}\n` }],
    };
    const r = testRunner(inv, transports, { dir });
    const [first] = await r.runStep(step, hosts);
    expect(readFileSync(f, 'utf8')).toBe('hello\n');
    expect(first.changes.map((c) => c.summary)).toEqual([`create ${f}`]);
    const [again] = await r.runStep(step, hosts);
    expect(again.changes).toEqual([]);
    expect(again.roundTrips).toBe(1);
  });

  it('tells verify whether the step changed anything on the host in this run', async () => {
    const { hosts, inv, transports } = setup(['a']);
    const f = join(dir, 'verify.txt');
    const seen: boolean[] = [];
    const step: Step = {
      id: 's.verify',
      title: 'verify',
      resources: () => [{ kind: 'file', path: f, content: 'v\n' }],
      verify: async (_ctx, _t, r) => void seen.push(r?.changed ?? false),
    };
    const r = testRunner(inv, transports, { dir });
    await r.runStep(step, hosts);
    await r.runStep(step, hosts);
    expect(seen).toEqual([true, false]);
  });

  it('probes what the guess missed in a second round trip', async () => {
    const { hosts, inv, transports } = setup(['a']);
    const step: Step = {
      id: 's.dep',
      title: 'depends',
      facts: () => ({ path: { script: `echo ${join(dir, 'two.txt')}`, parse: (o) => o.trim() } }),
      resources: (_ctx, facts) => (facts.path ? [{ kind: 'file', path: facts.path as string, content: 'x\n' }] : []),
    };
    const r = testRunner(inv, transports, { dir });
    await r.runStep(step, hosts);
    const [again] = await r.runStep(step, hosts);
    expect(again.changes).toEqual([]);
    expect(again.roundTrips).toBe(2);
  });

  it('runs a rolling step one host at a time in the stated order and stops at the first failure', async () => {
    const { hosts, inv, transports } = setup(['a', 'b', 'c']);
    const log = join(dir, 'order.log');
    const step: Step = {
      id: 's.roll',
      title: 'rolling',
      serial: true,
      order: async (g) => [...g.hosts].reverse(),
      resources: (ctx) => [
        {
          kind: 'command',
          label: `mark ${ctx.host.name}`,
          script: ctx.host.name === 'b' ? 'echo boom >&2; exit 4' : `echo ${ctx.host.name} >> ${log}`,
        },
      ],
    };
    const r = testRunner(inv, transports, { dir });
    const err = await r.runStep(step, hosts).catch((e) => e);
    expect(err).toBeInstanceOf(RunError);
    expect((err as RunError).failures.map((f) => f.host)).toEqual(['b']);
    expect((err as RunError).failures[0].error.message).toMatch(/b: run: mark b failed \(exit 4\)/);
    expect(readFileSync(log, 'utf8')).toBe('c\n'); // a never ran
  });

  it('lets the other hosts of a parallel step finish, then reports every failed host', async () => {
    const { hosts, inv, transports } = setup(['a', 'b', 'c']);
    const step: Step = {
      id: 's.par',
      title: 'parallel',
      resources: (ctx) => [{ kind: 'command', label: 'work', script: ctx.host.name === 'a' ? 'exit 0' : `exit 7` }],
    };
    const r = testRunner(inv, transports, { dir });
    const err = (await r.runStep(step, hosts).catch((e) => e)) as RunError;
    expect(err.failures.map((f) => f.host).sort()).toEqual(['b', 'c']);
    expect(r.results.find((x) => x.host === 'a')?.error).toBeUndefined();
  });

  it('changes nothing in check mode', async () => {
    const { hosts, inv, transports } = setup(['a']);
    const f = join(dir, 'never.txt');
    const step: Step = { id: 's.chk', title: 'check', resources: () => [{ kind: 'file', path: f, content: 'x' }] };
    const r = testRunner(inv, transports, { check: true, diff: true, dir });
    const [res] = await r.runStep(step, hosts);
    expect(res.changes[0].summary).toBe(`create ${f}`);
    expect(res.changes[0].diff).toContain('+x');
    expect(() => readFileSync(f)).toThrow();
  });
});

/** A host whose output is cut short: only the first `keep` lines of each script's stdout arrive. */
class TruncatingTransport extends LocalTransport {
  constructor(
    host: ReturnType<typeof fakeHost>,
    readonly keep: number,
  ) {
    super(host);
  }
  override async exec(script: string, opts?: Parameters<LocalTransport['exec']>[1]) {
    const r = await super.exec(script, opts);
    return { ...r, stdout: r.stdout.split('\n').slice(0, this.keep).join('\n') };
  }
}

describe('runner: incomplete probe output', () => {
  for (const [what, facts] of [
    ['without facts', false],
    ['with facts', true],
  ] as const) {
    it(`fails the step and runs nothing when the probe's output is truncated (${what})`, async () => {
      const { hosts, inv } = setup(['a']);
      const d = mkdtempSync(join(tmpdir(), 'pgha-trunc-'));
      const wiped = join(d, 'wiped');
      const step: Step = {
        id: 's.reinit',
        title: 'reinit',
        ...(facts ? { facts: () => ({ word: { script: 'echo hello', parse: (o: string) => o.trim() } }) } : {}),
        resources: () => [
          { kind: 'file', path: join(d, 'conf'), content: 'x\n' },
          // Its guard says "skip" (the replica is fine), but that record is cut off.
          { kind: 'command', label: 'reinit the replica', script: `touch ${wiped}`, unless: 'true' },
        ],
      };
      const transports = new Map<string, Transport>([['a', new TruncatingTransport(hosts[0]!, facts ? 4 : 2)]]);
      const r = testRunner(inv, transports, { dir: d });
      const err = await r.runStep(step, hosts).catch((e) => e);
      expect(err).toBeInstanceOf(RunError);
      const failure = (err as RunError).failures[0]!;
      expect(failure.error.message).toMatch(
        /a: the probe's output is incomplete \((records for 1 of 2 resources; none for command: reinit the replica|no end marker.*)\): nothing was changed/,
      );
      expect(existsSync(wiped)).toBe(false);
      expect(existsSync(join(d, 'conf'))).toBe(false);
      // The same step on a host whose output arrives whole: the guard is read, nothing is wiped.
      const whole = new Runner({
        inventory: inv,
        secrets: {},
        transports: new Map<string, Transport>([['a', new LocalTransport(hosts[0]!)]]),
        check: false,
        diff: false,
        events: {},
        pendingDir: join(d, 'notify'),
      });
      await whole.runStep(step, hosts);
      expect(existsSync(join(d, 'conf'))).toBe(true);
      expect(existsSync(wiped)).toBe(false);
    });
  }
});
