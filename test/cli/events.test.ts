// What a run reports besides its result, from a real Runner on this machine (sh in a temp dir): the recap per
// host, the --log-file lines (every event, secrets masked), remote scripts at -vv only, progress on stderr
// with --json, and the exit code of plan --exit-code.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runner } from '../../src/engine/runner.js';
import { RunError } from '../../src/util/errors.js';
import { MASK, addSecret, clearSecrets } from '../../src/engine/mask.js';
import type { Step, Transport } from '../../src/engine/types.js';
import { makeOut } from '../../src/cli/output.js';
import { openEventLog } from '../../src/cli/logfile.js';
import { computeRecap, formatRecap } from '../../src/cli/recap.js';
import { watchTransport } from '../../src/cli/session.js';
import { planExitCode } from '../../src/cli/commands/plan.js';
import { LocalTransport, fakeHost, fakeInventory } from '../engine/local-transport.js';

const dir = mkdtempSync(join(tmpdir(), 'pgha-events-'));

function setup(names: string[], onExec?: (host: string, script: string) => void) {
  const hosts = names.map((n, i) => fakeHost(n, `10.0.0.${i + 1}`));
  const inv = fakeInventory(dir, hosts);
  const transports = new Map<string, Transport>(
    hosts.map((h) => {
      const t = new LocalTransport(h);
      return [h.name, onExec ? watchTransport(t, onExec) : t];
    }),
  );
  return { hosts, inv, transports };
}

/** A file per host under `sub`; `content` per host. */
function fileStep(id: string, sub: string, content: (host: string) => string, failOn?: string): Step {
  return {
    id,
    title: id,
    resources: (ctx) => [
      { kind: 'file', path: join(dir, sub, `${ctx.host.name}.txt`), content: content(ctx.host.name) },
    ],
    verify: failOn
      ? async (ctx) => {
          if (ctx.host.name === failOn) throw new Error(`${failOn} does not answer`);
        }
      : undefined,
  };
}

function capture(stream: NodeJS.WriteStream): { text: () => string } {
  let text = '';
  vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  });
  return { text: () => text };
}

afterEach(() => {
  vi.restoreAllMocks();
  clearSecrets();
});

describe('recap', () => {
  it('counts per host the steps ok (changed included), changed and failed, and the hosts that did not connect', async () => {
    const { hosts, inv, transports } = setup(['a', 'b', 'c']);
    writeFileSync(join(dir, 'c.txt'), 'same\n'); // c already as wanted in step one
    const r = new Runner({ inventory: inv, secrets: {}, transports, check: false, diff: false, events: {} });
    const one = fileStep('one', '', (h) => (h === 'c' ? 'same\n' : `new ${h}\n`));
    const two = fileStep('two', 'two-', () => 'x\n', 'b');
    await r.runStep(one, hosts);
    await expect(
      r.runStep(
        { ...two, resources: (ctx) => [{ kind: 'file', path: join(dir, `two-${ctx.host.name}.txt`), content: 'x\n' }] },
        hosts.slice(0, 2),
      ),
    ).rejects.toBeInstanceOf(RunError);
    const recap = computeRecap(['a', 'b', 'c', 'd'], r.results, ['d']);
    expect(recap).toEqual({
      a: { ok: 2, changed: 2, failed: 0, unreachable: 0 },
      b: { ok: 1, changed: 1, failed: 1, unreachable: 0 },
      c: { ok: 1, changed: 0, failed: 0, unreachable: 0 },
      d: { ok: 0, changed: 0, failed: 0, unreachable: 1 },
    });
    expect(formatRecap(recap).split('\n')).toEqual([
      'recap:',
      '  a  ok=2  changed=2  failed=0  unreachable=0',
      '  b  ok=1  changed=1  failed=1  unreachable=0',
      '  c  ok=1  changed=0  failed=0  unreachable=0',
      '  d  ok=0  changed=0  failed=0  unreachable=1',
    ]);
  });
});

describe('--log-file, -vv and --json output', () => {
  const SECRET = 'Pw"with\\quote-and-0123';

  async function run(verbose: number) {
    const log = join(dir, `run-${verbose}.log`);
    const sink = openEventLog(log);
    const stdout = capture(process.stdout);
    const stderr = capture(process.stderr);
    const out = makeOut('json', verbose, true, sink);
    addSecret(SECRET);
    const { hosts, inv, transports } = setup(['h1'], out.exec);
    const r = new Runner({ inventory: inv, secrets: {}, transports, check: false, diff: true, events: out.events });
    await r.runStep(
      fileStep(`secret-${verbose}`, `s${verbose}-`, () => `password=${SECRET}\n`),
      hosts,
    );
    out.info('done: 1 change');
    sink.write({ event: 'result', exitCode: 0, result: { ok: true, note: `the secret is ${SECRET}` } });
    const text = readFileSync(log, 'utf8');
    return {
      text,
      events: text
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
      stdout: stdout.text(),
      stderr: stderr.text(),
    };
  }

  it('writes every event as a JSON line, the secret masked everywhere (even in JSON-escaped form)', async () => {
    const { text, events } = await run(2);
    expect(events.map((e) => e.event)).toEqual(
      expect.arrayContaining(['step-start', 'exec', 'host-done', 'step-end', 'info', 'result']),
    );
    expect(events.every((e) => typeof e.time === 'string')).toBe(true);
    const done = events.find((e) => e.event === 'host-done') as { changes: { summary: string; diff: string }[] };
    expect(done.changes[0].diff).toContain(`+password=${MASK}`);
    expect(events.find((e) => e.event === 'result')).toMatchObject({ result: { note: `the secret is ${MASK}` } });
    expect(text).not.toContain('0123');
    expect(text).not.toContain(JSON.stringify(SECRET).slice(1, -1));
    const exec = events.filter((e) => e.event === 'exec');
    expect(exec.length).toBeGreaterThan(0);
    expect(exec.every((e) => e.host === 'h1')).toBe(true);
  });

  it('-vv prints every remote script, masked, on stderr; --json keeps stdout empty for the document', async () => {
    const { stdout, stderr } = await run(2);
    expect(stdout).toBe('');
    expect(stderr).toContain('== secret-2 [h1]');
    expect(stderr).toContain('done: 1 change');
    expect(stderr).toMatch(/^\[h1\] \$ /m);
    expect(stderr).not.toContain('0123');
  });

  it('-v alone neither prints nor logs remote scripts', async () => {
    const { events, stderr } = await run(1);
    expect(events.some((e) => e.event === 'exec')).toBe(false);
    expect(events.some((e) => e.event === 'host-done')).toBe(true);
    expect(stderr).not.toMatch(/^\[h1\] \$ /m);
  });

  it('a log file that cannot be written is bad input', () => {
    writeFileSync(join(dir, 'plain-file'), '');
    expect(() => openEventLog(join(dir, 'plain-file', 'run.log'))).toThrow(/cannot write the log file/);
  });
});

describe('plan --exit-code', () => {
  it('3 when files or hosts would change, 0 when nothing would, 0 without the option', () => {
    const none = { provider: [], totals: { changes: 0 } };
    const files = { provider: [], totals: { changes: 4 } };
    const hosts = { provider: [{ host: 'pg1', action: 'create' }], totals: { changes: 0 } };
    expect([none, files, hosts].map((r) => planExitCode(r, true))).toEqual([0, 3, 3]);
    expect([none, files, hosts].map((r) => planExitCode(r, false))).toEqual([0, 0, 0]);
  });
});
