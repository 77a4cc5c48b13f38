// The command kind on its own: its guards probed with sh in a temp directory, its plan preview, its script run.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandKind, type CommandResource } from '../../../src/engine/kinds/command.js';
import { MASK, addSecret, clearSecrets } from '../../../src/engine/mask.js';
import { LocalTransport, fakeHost } from '../local-transport.js';
import { applyOps, probeOne } from './helpers.js';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-kind-cmd-'));
  return { dir, t: new LocalTransport(fakeHost()) };
}

describe('command kind', () => {
  it('runs while its `creates` path is missing, and not after', async () => {
    const { dir, t } = setup();
    const done = join(dir, "it's done");
    const r: CommandResource = {
      kind: 'command',
      label: 'init',
      argv: ['sh', '-c', 'printf "%s" "$1" > "$2"', 'sh', "a 'quoted' word", done],
      creates: done,
    };
    expect(commandKind.describe(r)).toBe('command: init');
    const { state } = await probeOne(commandKind, t, r);
    expect(state).toEqual({ kind: 'command', run: true });
    const plan = commandKind.plan(r, state, false)!;
    expect(plan).toEqual({ summary: 'run: init', ops: [{ op: 'run' }], diff: undefined });
    const [res] = await applyOps(commandKind, t, r, plan.ops);
    expect(res!.code).toBe(0);
    expect(readFileSync(done, 'utf8')).toBe("a 'quoted' word"); // argv reached the program word for word
    expect((await probeOne(commandKind, t, r)).state).toEqual({ kind: 'command', run: false });
    expect(commandKind.plan(r, { kind: 'command', run: false }, false)).toBeUndefined();
  });

  it('skips when its `unless` test succeeds; either guard is enough', async () => {
    const { dir, t } = setup();
    const flag = join(dir, 'flag');
    const r: CommandResource = {
      kind: 'command',
      label: 'x',
      script: 'true',
      unless: `test -f ${flag}`,
      creates: join(dir, 'never'),
    };
    expect((await probeOne(commandKind, t, r)).state.run).toBe(true);
    writeFileSync(flag, '');
    expect((await probeOne(commandKind, t, r)).state.run).toBe(false);
  });

  it('with explain, plan names what its `unless` test printed (masked); a passing test prints nothing', async () => {
    const { dir, t } = setup();
    const flag = join(dir, 'flag');
    const r: CommandResource = {
      kind: 'command',
      label: 'sync',
      script: 'true',
      unless: `if [ -f ${flag} ]; then echo ignored; exit 0; fi; printf 'a 1 -> 2\\n\\nb = s3cretvalue (added)\\n'; exit 1`,
      explain: true,
    };
    addSecret('s3cretvalue');
    try {
      const { state } = await probeOne(commandKind, t, r);
      expect(state).toEqual({ kind: 'command', run: true, notes: ['a 1 -> 2', 'b = s3cretvalue (added)'] });
      expect(commandKind.plan(r, state, false)!.summary).toBe(`run: sync: a 1 -> 2, b = ${MASK} (added)`);
    } finally {
      clearSecrets();
    }
    writeFileSync(flag, '');
    expect((await probeOne(commandKind, t, r)).state).toEqual({ kind: 'command', run: false });
    expect(commandKind.identity(r)).not.toBe(commandKind.identity({ ...r, explain: false }));
  });

  it('runs every time without a guard', async () => {
    const { t } = setup();
    const { stdout, state } = await probeOne(commandKind, t, { kind: 'command', label: 'x', script: 'true' });
    expect(stdout).toBe('C 3 run\n');
    expect(state.run).toBe(true);
  });

  it('probes by its guards: two commands with the same guards share one probe', () => {
    const a: CommandResource = { kind: 'command', label: 'a', script: 'one', creates: '/x', unless: 'test -f /y' };
    expect(commandKind.identity({ ...a, label: 'b', script: 'two' })).toBe(commandKind.identity(a));
    expect(commandKind.identity({ ...a, creates: '/z' })).not.toBe(commandKind.identity(a));
  });

  it('previews the first lines of a script, masked, in a diff', () => {
    addSecret('s3cr3t-value');
    try {
      const r: CommandResource = { kind: 'command', label: 'x', script: 'a\necho s3cr3t-value\nc\nd\ne\nf' };
      expect(commandKind.plan(r, { kind: 'command', run: true }, true)!.diff).toBe(
        '$ a\n  echo ********\n  c\n  d\n  ... (2 more lines)',
      );
    } finally {
      clearSecrets();
    }
  });

  it('feeds its stdin, masks its secrets and keeps its own timeout', async () => {
    const { dir, t } = setup();
    const out = join(dir, 'in');
    const r: CommandResource = {
      kind: 'command',
      label: 'x',
      script: `cat > ${out}`,
      stdin: 'from stdin\n',
      secrets: ['pw'],
      timeoutMs: 5000,
    };
    expect(commandKind.exec!(r, { op: 'run' })).toEqual({ timeoutMs: 5000, secrets: ['pw'], stdin: 'from stdin\n' });
    expect(commandKind.exec!({ ...r, timeoutMs: undefined }, { op: 'run' }).timeoutMs).toBeUndefined(); // apply's default then
    await applyOps(commandKind, t, r, [{ op: 'run' }]);
    expect(existsSync(out) && readFileSync(out, 'utf8')).toBe('from stdin\n');
  });
});
