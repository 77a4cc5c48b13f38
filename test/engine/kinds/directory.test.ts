// The directory kind on its own: probe with sh against a temp directory, plan, mkdir script.
import { chmodSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { directoryKind, type DirectoryResource } from '../../../src/engine/kinds/directory.js';
import { LocalTransport, fakeHost } from '../local-transport.js';
import { ME, applyOps, probeOne } from './helpers.js';

function setup(mode?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-kind-dir-'));
  const r: DirectoryResource = {
    kind: 'directory',
    path: join(dir, 'a b', 'data'),
    owner: ME.user,
    group: ME.group,
    mode,
  };
  return { r, t: new LocalTransport(fakeHost()) };
}

describe('directory kind', () => {
  it('names a directory by its path', () => {
    const { r } = setup();
    expect(directoryKind.describe(r)).toBe(`directory ${r.path}`);
    expect(directoryKind.identity({ ...r, mode: '0700' })).toBe(directoryKind.identity(r));
  });

  it('creates a missing directory (and its parents) with its mode, then finds it as wanted', async () => {
    const { r, t } = setup('0750');
    const { state } = await probeOne(directoryKind, t, r);
    expect(state).toEqual({ kind: 'directory', state: { exists: false } });
    const plan = directoryKind.plan(r, state, false)!;
    expect(plan).toEqual({ summary: `create directory ${r.path}`, ops: [{ op: 'mkdir' }] });
    const [res] = await applyOps(directoryKind, t, r, plan.ops);
    expect(res!.code).toBe(0);
    expect(statSync(r.path).isDirectory()).toBe(true);
    expect(statSync(r.path).mode & 0o777).toBe(0o750);
    expect(statSync(join(r.path, '..')).mode & 0o777).toBe(0o755); // a missing parent: 0755, not the umask's 0700
    const again = await probeOne(directoryKind, t, r);
    expect(again.state).toEqual({
      kind: 'directory',
      state: { exists: true, owner: ME.user, group: ME.group, mode: '750' },
    });
    expect(directoryKind.plan(r, again.state, false)).toBeUndefined();
  });

  it('fixes the mode of an existing directory, 0755 unless told otherwise', async () => {
    const { r, t } = setup();
    await applyOps(directoryKind, t, r, [{ op: 'mkdir' }]);
    expect(statSync(r.path).mode & 0o777).toBe(0o755);
    chmodSync(r.path, 0o700);
    const { state } = await probeOne(directoryKind, t, r);
    expect(directoryKind.plan(r, state, false)).toEqual({
      summary: `${r.path}: mode 700 -> 0755`,
      ops: [{ op: 'mkdir' }],
    });
    await applyOps(directoryKind, t, r, [{ op: 'mkdir' }]);
    expect(statSync(r.path).mode & 0o777).toBe(0o755);
  });

  it('sees another owner', () => {
    const { r } = setup('0755');
    const plan = directoryKind.plan(
      r,
      { kind: 'directory', state: { exists: true, owner: 'nobody', group: ME.group, mode: '755' } },
      false,
    );
    expect(plan?.summary).toBe(`${r.path}: owner nobody -> ${ME.user}`);
  });
});
