// The read at the start of a run (src/engine/prefetch.ts): real scripts run with sh on this machine, round trips
// counted per host.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ExecOptions, ExecResult, Step, Transport } from '../../src/engine/types.js';
import { CheckError, RunError } from '../../src/util/errors.js';
import { waitFor } from '../../src/engine/wait.js';
import { LocalTransport, fakeHost, fakeInventory, testRunner } from './local-transport.js';

function setup(names: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-prefetch-'));
  const hosts = names.map((n, i) => fakeHost(n, `10.0.0.${i + 1}`));
  const inv = fakeInventory(dir, hosts);
  const transports = new Map<string, LocalTransport>(hosts.map((h) => [h.name, new LocalTransport(h)]));
  return { dir, hosts, inv, transports };
}

/** A step keeping `file` at `content`, with a fact, a check of a state file (bounded wait) and a group check. */
function fileStep(id: string, file: string, content: string, state: string): Step {
  const check = `cat ${state}`;
  return {
    id,
    title: id,
    facts: () => ({ word: { script: 'echo hello', parse: (o) => o.trim() } }),
    resources: (_ctx, facts) => [{ kind: 'file', path: file, content: facts.word ? content : content }],
    reads: () => [check],
    async verify(ctx, t) {
      const res = await waitFor(
        async () => {
          const r = await t.exec(check);
          return { ok: r.stdout.trim() === 'ok', value: r.stdout.trim() };
        },
        { timeoutMs: 2000, intervalMs: 100 },
      );
      if (!res.ok) throw new CheckError(ctx.host.name, 'state', 'ok', String(res.value));
    },
    groupReads: (g) => g.hosts.map((h) => ({ host: h.name, script: check })),
    before: async (g) => {
      for (const h of g.hosts)
        if ((await g.transports.get(h.name)!.exec(check)).stdout.trim() !== 'ok') g.log('not ok');
    },
    async verifyGroup(g) {
      for (const h of g.hosts) {
        const r = await g.transports.get(h.name)!.exec(check);
        if (r.stdout.trim() !== 'ok') throw new CheckError(h.name, 'group state', 'ok', r.stdout);
      }
    },
  };
}

describe('the read at the start of a run', () => {
  it('a run that changes nothing costs one round trip per host, checks included', async () => {
    const { dir, hosts, inv, transports } = setup(['a', 'b']);
    const state = join(dir, 'state');
    writeFileSync(state, 'ok\n');
    const steps = [1, 2, 3].map((i) => fileStep(`s.${i}`, join(dir, `f${i}`), `${i}\n`, state));
    // Converge first (not counted), then a fresh run of the same steps.
    const first = testRunner(inv, transports, { dir });
    for (const s of steps) await first.runStep(s, hosts);
    const before = new Map([...transports].map(([n, t]) => [n, t.roundTrips]));
    const r = testRunner(inv, transports, { dir });
    await r.prefetch(steps.map((step) => ({ step, hosts })));
    for (const s of steps) {
      const res = await r.runStep(s, hosts);
      expect(res.every((x) => x.changes.length === 0)).toBe(true);
    }
    for (const [n, t] of transports) expect(t.roundTrips - before.get(n)!, n).toBe(1);
    // Without the read, the same run costs a round trip per step and host, and more for the checks.
    const plain = testRunner(inv, transports, { dir });
    const mid = transports.get('a')!.roundTrips;
    for (const s of steps) await plain.runStep(s, hosts);
    expect(transports.get('a')!.roundTrips - mid).toBeGreaterThanOrEqual(3 * 4);
  });

  it('once a change was applied, later steps read the hosts again and check them for real', async () => {
    const { dir, hosts, inv, transports } = setup(['a']);
    const state = join(dir, 'state');
    writeFileSync(state, 'ok\n');
    const s1 = fileStep('s.1', join(dir, 'f1'), '1\n', state);
    const s2 = fileStep('s.2', join(dir, 'f2'), '2\n', state);
    const conv = testRunner(inv, transports, { dir });
    await conv.runStep(s1, hosts);
    await conv.runStep(s2, hosts);
    writeFileSync(join(dir, 'f1'), 'drifted\n'); // s.1 has something to change now
    const t = transports.get('a')!;
    const r = testRunner(inv, transports, { dir });
    await r.prefetch([
      { step: s1, hosts },
      { step: s2, hosts },
    ]);
    const [one] = await r.runStep(s1, hosts);
    expect(one!.changes.map((c) => c.summary)).toEqual([`update ${join(dir, 'f1')}`]);
    expect(readFileSync(join(dir, 'f1'), 'utf8')).toBe('1\n');
    // Something changed: s.2's facts and probes are read again, its check runs against the host.
    writeFileSync(state, 'ok\n'); // (unchanged, but read for real)
    const scriptsBefore = t.scripts.length;
    const [two] = await r.runStep(s2, hosts);
    expect(two!.changes).toEqual([]);
    expect(two!.roundTrips).toBeGreaterThanOrEqual(2); // facts + probes, then the check
    const again = t.scripts.slice(scriptsBefore);
    expect(again.some((s) => s.includes('echo hello'))).toBe(true);
    expect(again.filter((s) => s === `cat ${state}`).length).toBeGreaterThanOrEqual(2); // verify and verifyGroup
  });

  it('a check that fails on the read runs again against the host, with its bounded wait', async () => {
    const { dir, hosts, inv, transports } = setup(['a']);
    const state = join(dir, 'state');
    const step = fileStep('s.1', join(dir, 'f1'), '1\n', state);
    writeFileSync(state, 'ok\n');
    await testRunner(inv, transports, { dir }).runStep(step, hosts);
    // The read sees "starting"; by the time the check runs, the host says "ok".
    writeFileSync(state, 'starting\n');
    const r = testRunner(inv, transports, { dir });
    await r.prefetch([{ step, hosts }]);
    writeFileSync(state, 'ok\n');
    const t = transports.get('a')!;
    const n = t.scripts.length;
    const [res] = await r.runStep(step, hosts);
    expect(res!.error).toBeUndefined();
    expect(t.scripts.slice(n)).toContain(`cat ${state}`); // the full check ran on the host
    // And when the host really is not as wanted, the full check fails as without the read.
    writeFileSync(state, 'broken\n');
    const r2 = testRunner(inv, transports, { dir });
    await r2.prefetch([{ step, hosts }]);
    const err = await r2.runStep(step, hosts).catch((e) => e);
    expect(err).toBeInstanceOf(RunError);
    expect((err as RunError).failures[0]!.error).toBeInstanceOf(CheckError);
    expect(((err as RunError).failures[0]!.error as CheckError).actual).toBe('broken');
  });

  it('output cut short fails the run before anything changes, as a probe does', async () => {
    const { dir, hosts, inv } = setup(['a']);
    const f = join(dir, 'f1');
    const local = new LocalTransport(hosts[0]!);
    const cut: Transport = {
      host: hosts[0]!,
      get roundTrips() {
        return local.roundTrips;
      },
      async exec(script: string, opts?: ExecOptions): Promise<ExecResult> {
        const r = await local.exec(script, opts);
        return { ...r, stdout: r.stdout.slice(0, Math.floor(r.stdout.length / 2)) };
      },
      close: async () => {},
    };
    const step = fileStep('s.1', f, '1\n', join(dir, 'state'));
    const r = testRunner(inv, new Map([['a', cut]]), { dir });
    const err = await r.prefetch([{ step, hosts }]).catch((e) => e);
    expect(err).toBeInstanceOf(RunError);
    expect(String((err as RunError).failures[0]!.error.message)).toContain('incomplete');
    expect(local.roundTrips).toBe(1);
  });
});
