// The real probe and apply scripts, run with sh on this machine against a temp directory.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { probe } from '../../src/engine/probe.js';
import { planChanges } from '../../src/engine/plan.js';
import { applyChanges, BACKUP_DIR } from '../../src/engine/apply.js';
import type { Resource } from '../../src/engine/types.js';
import { LocalTransport, fakeHost } from './local-transport.js';

/** A fresh temp directory per test: the managed files, the backups and the notification records live there. */
function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-apply-'));
  const backupDir = join(dir, 'backup');
  const t = new LocalTransport(fakeHost());
  const converge = async (rs: Resource[]) => {
    const before = t.roundTrips;
    const changes = planChanges(rs, await probe(t, rs, false), false);
    const applied = changes.length
      ? await applyChanges(t, changes, rs, () => undefined, { pendingDir: join(dir, 'notify'), backupDir })
      : { applied: [], restarted: [], reloaded: [] };
    return { changes, applied, trips: t.roundTrips - before };
  };
  return { dir, backupDir, t, converge, file: join(dir, 'sub dir', 'app.conf') };
}

describe('apply (local sh)', () => {
  it('creates a file atomically, keeps the previous version, and is idempotent', async () => {
    const { dir, backupDir, converge, file } = setup();
    const rs: Resource[] = [
      { kind: 'directory', path: join(dir, 'data'), mode: '0700' },
      { kind: 'file', path: file, content: 'port = 1\n', mode: '0600' },
      { kind: 'command', label: 'marker', script: `echo ran >> ${join(dir, 'ran')}`, creates: join(dir, 'ran') },
    ];
    const first = await converge(rs);
    expect(first.changes.map((c) => c.summary)).toEqual([
      `create directory ${join(dir, 'data')}`,
      `create ${file}`,
      'run: marker',
    ]);
    expect(readFileSync(file, 'utf8')).toBe('port = 1\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'data')).mode & 0o777).toBe(0o700);

    const second = await converge(rs);
    expect(second.changes).toEqual([]);
    expect(second.trips).toBe(1); // one probe round trip for all three resources
    expect(readFileSync(join(dir, 'ran'), 'utf8')).toBe('ran\n');

    (rs[1] as { content: string }).content = 'port = 2\n';
    const third = await converge(rs);
    expect(third.changes.map((c) => c.summary)).toEqual([`update ${file}`]);
    expect(readFileSync(file, 'utf8')).toBe('port = 2\n');
    expect(readFileSync(join(backupDir, file), 'utf8')).toBe('port = 1\n');
  });

  it('refuses a file that fails validation and leaves the old one in place', async () => {
    const { converge, file } = setup();
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, 'good\n');
    const rs: Resource[] = [{ kind: 'file', path: file, content: 'bad\n', validate: 'grep -q good %s' }];
    await expect(converge(rs)).rejects.toThrow(/failed \(exit 3\)/);
    expect(readFileSync(file, 'utf8')).toBe('good\n');
    expect(readdirSync(dirname(file))).toEqual(['app.conf']); // no temp file left behind
  });

  it('runs a notify only when what it depends on changed', async () => {
    const { dir, t, converge } = setup();
    const rs: Resource[] = [
      {
        kind: 'file',
        path: join(dir, 'n.conf'),
        content: 'x\n',
        notify: [{ service: 'pgha-no-such-unit', action: 'restart' }],
      },
    ];
    const first = await converge(rs);
    expect(first.changes).toHaveLength(1);
    // The notified unit is not running here, so nothing is restarted, and the run says so.
    expect(first.applied.restarted).toEqual([]);
    expect(t.scripts.some((s) => s.includes('systemctl restart pgha-no-such-unit'))).toBe(true);
    const scriptsBefore = t.scripts.length;
    const second = await converge(rs);
    expect(second.changes).toEqual([]);
    expect(t.scripts.slice(scriptsBefore).some((s) => s.includes('systemctl restart'))).toBe(false);
  });

  it('keeps previous versions under /var/lib/pgha/backup on a host unless told otherwise', async () => {
    const scripts: string[] = [];
    const t = {
      host: fakeHost(),
      roundTrips: 0,
      exec: async (s: string) => (scripts.push(s), { stdout: '', stderr: '', code: 0 }),
      close: async () => {},
    };
    const rs: Resource[] = [{ kind: 'file', path: '/etc/app.conf', content: 'x\n' }];
    await applyChanges(
      t,
      [{ index: 0, resource: rs[0]!, summary: 'update /etc/app.conf', ops: [{ op: 'write' }] }],
      rs,
      () => undefined,
      {},
    );
    expect(BACKUP_DIR).toBe('/var/lib/pgha/backup');
    expect(scripts.join('\n')).toContain('cp -p /etc/app.conf /var/lib/pgha/backup/etc/app.conf');
  });
});
