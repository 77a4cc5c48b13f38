// The file kind on its own: its probe run with sh against a temp directory, its plan, its write script.
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileKind, sha256, type FileResource } from '../../../src/engine/kinds/file.js';
import { LocalTransport, fakeHost } from '../local-transport.js';
import { ME, applyOps, probeOne } from './helpers.js';
import { fakeBin } from '../fake-bin.js';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-kind-file-'));
  const r: FileResource = {
    kind: 'file',
    path: join(dir, 'conf d', "it's.conf"),
    content: 'port = 1\n',
    owner: ME.user,
    group: ME.group,
    mode: '0640',
  };
  return { dir, r, t: new LocalTransport(fakeHost()), backup: join(dir, 'backup') };
}

describe('file kind', () => {
  it('names a file by its path', () => {
    const { r } = setup();
    expect(fileKind.describe(r)).toBe(`file ${r.path}`);
    // Content, owner and mode are compared locally: two wishes for the same path share one probe.
    expect(fileKind.identity({ ...r, content: 'other', mode: '0600' })).toBe(fileKind.identity(r));
  });

  it('creates a missing file with its owner and mode, then finds it as wanted', async () => {
    const { r, t, backup } = setup();
    const { state } = await probeOne(fileKind, t, r);
    expect(state).toEqual({ kind: 'file', state: { exists: false } });
    const plan = fileKind.plan(r, state, true)!;
    expect(plan.summary).toBe(`create ${r.path}`);
    expect(plan.diff).toContain('+port = 1');
    const [res] = await applyOps(fileKind, t, r, plan.ops, backup);
    expect(res!.code).toBe(0);
    expect(readFileSync(r.path, 'utf8')).toBe('port = 1\n');
    expect(statSync(r.path).mode & 0o777).toBe(0o640);
    // The missing parent is 0755, not 0700 from the script's umask: services read files under it.
    expect(statSync(join(r.path, '..')).mode & 0o777).toBe(0o755);
    const again = await probeOne(fileKind, t, r);
    expect(again.state.state).toMatchObject({
      exists: true,
      sha: sha256('port = 1\n'),
      owner: ME.user,
      group: ME.group,
      mode: '640',
    });
    expect(fileKind.plan(r, again.state, true)).toBeUndefined();
  });

  it('reads the current content back for a diff, and keeps the replaced version', async () => {
    const { r, t, backup } = setup();
    await applyOps(fileKind, t, r, [{ op: 'write' }], backup);
    const changed = { ...r, content: 'port = 2\n' };
    const { state } = await probeOne(fileKind, t, changed, true);
    expect(state.state.content).toBe('port = 1\n');
    const plan = fileKind.plan(changed, state, true)!;
    expect(plan.summary).toBe(`update ${r.path}`);
    expect(plan.diff).toContain('-port = 1');
    expect(plan.diff).toContain('+port = 2');
    await applyOps(fileKind, t, changed, plan.ops, backup);
    expect(readFileSync(r.path, 'utf8')).toBe('port = 2\n');
    expect(readFileSync(join(backup, r.path), 'utf8')).toBe('port = 1\n');
  });

  it('fixes only the mode when the content is right', async () => {
    const { r, t, backup } = setup();
    await applyOps(fileKind, t, r, [{ op: 'write' }], backup);
    chmodSync(r.path, 0o666);
    const { state } = await probeOne(fileKind, t, r);
    const plan = fileKind.plan(r, state, false)!;
    expect(plan).toEqual({ summary: `${r.path}: mode 666 -> 0640`, ops: [{ op: 'attrs' }] });
    await applyOps(fileKind, t, r, plan.ops, backup);
    expect(statSync(r.path).mode & 0o777).toBe(0o640);
    expect(existsSync(join(backup, r.path))).toBe(false); // nothing was replaced
  });

  it('leaves the old file in place when the new one fails validation, and says why', async () => {
    const { r, t, backup } = setup();
    await applyOps(fileKind, t, r, [{ op: 'write' }], backup);
    const bad = { ...r, content: 'port = x\n', validate: 'grep -q "port = [0-9]" %s' };
    const [res] = await applyOps(fileKind, t, bad, [{ op: 'write' }], backup);
    expect(res!.code).toBe(3);
    expect(res!.stderr).toContain('validation failed: grep -q "port = [0-9]" %s');
    expect(readFileSync(r.path, 'utf8')).toBe('port = 1\n');
    expect(readdirSync(join(r.path, '..'))).toEqual(["it's.conf"]); // no temp file left
    expect(fileKind.failure!(bad).hint).toBe(
      `the new ${r.path} did not pass "${bad.validate}"; the old file is untouched`,
    );
    expect(fileKind.failure!(r).hint).toBeUndefined();
  });

  it('masks credentials in the diff of a secret file', () => {
    const { r } = setup();
    const secret = { ...r, secret: true, content: 'user = app\npassword = hunter22\n' };
    const plan = fileKind.plan(secret, { kind: 'file', state: { exists: false } }, true)!;
    expect(plan.diff).toContain('+user = app');
    expect(plan.diff).toContain('+password = ********');
    expect(plan.diff).not.toContain('hunter22');
  });

  it('says the current content is too large to show when the probe did not send it', () => {
    const { r } = setup();
    const plan = fileKind.plan(
      r,
      { kind: 'file', state: { exists: true, sha: 'x', owner: ME.user, group: ME.group, mode: '640' } },
      true,
    )!;
    expect(plan.diff).toContain('(current file too large to show)');
  });

  it('reloads systemd after writing a unit file, and only then', () => {
    const unit = fileKind.script(
      { kind: 'file', path: '/etc/systemd/system/x.service', content: '' },
      { op: 'write' },
      {},
    );
    const plain = fileKind.script({ kind: 'file', path: '/etc/x.conf', content: '' }, { op: 'write' }, {});
    expect(unit.split('\n').at(-1)).toBe('systemctl daemon-reload');
    expect(plain).not.toContain('daemon-reload');
    expect(plain).toContain('cp -p /etc/x.conf /var/lib/pgha/backup/etc/x.conf');
  });

  it('reads a file probe line, a missing file and a content line', () => {
    const p = fileKind.unprobed();
    fileKind.read(p, 'F', 'abc app app 600');
    fileKind.read(p, 'X', Buffer.from('a\nb').toString('base64'));
    expect(p).toEqual({
      kind: 'file',
      state: { exists: true, sha: 'abc', owner: 'app', group: 'app', mode: '600', content: 'a\nb' },
    });
    const q = fileKind.unprobed();
    fileKind.read(q, 'F', '-');
    fileKind.read(q, 'D', 'root root 755'); // another kind's line
    expect(q).toEqual({ kind: 'file', state: { exists: false } });
  });
});

// The probe line of a file larger than the diff limit carries no content.
describe('file kind, large files', () => {
  it('does not send content over 256 KiB', async () => {
    const { r, t, backup } = setup();
    await applyOps(fileKind, t, r, [{ op: 'write' }], backup);
    writeFileSync(r.path, 'x'.repeat(256 * 1024 + 1));
    const { state, stdout } = await probeOne(fileKind, t, r, true);
    expect(stdout).not.toMatch(/^X /m);
    expect(state.state.exists).toBe(true);
    expect(state.state.content).toBeUndefined();
  });
});

describe('file kind: a file with secrets', () => {
  it('is never readable by others on its way: the temp file is 0600 until its own chmod', async () => {
    // chown runs between the write and the chmod: the fake one records the temp file's mode at that point.
    const { fake, t } = fakeBin({ chown: 'stat -c "%a %n" "$2" >> "$FAKE/modes"' });
    const path = join(fake, 'patroni.yml');
    const r: FileResource = { kind: 'file', path, content: 'password: hunter22\n', mode: '0640', secret: true };
    const [res] = await applyOps(fileKind, t, r, [{ op: 'write' }]);
    expect(res!.code).toBe(0);
    const seen = readFileSync(join(fake, 'modes'), 'utf8').trim().split(' ');
    expect(seen[0]).toBe('600');
    expect(seen[1]).toMatch(/\/\.pgha-patroni\.yml\.\d+$/);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(readFileSync(path, 'utf8')).toBe('password: hunter22\n');
  });
});
