// The Patroni configuration of a restore and of a rebuild from the repository: the member's normal config.yml with
// the bootstrap method (or the replica methods) added and nothing else changed; the commands in it are run the way
// Patroni runs them (shlex.split, no shell around them), and the restore_command the way PostgreSQL does (%f, %p
// replaced, through sh), against a fake pgbackrest that records its arguments.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { patroniConfigFile } from '../../src/components/patroni/steps.js';
import { withBackupReplicaMethod, withRestoreBootstrap } from '../../src/components/restore/bootstrap.js';
import { checkTarget, parseInfo, parseTarget, type RestorePlan } from '../../src/components/restore/target.js';
import { ctxFor, makeInventory } from './helpers.js';

const INFO = parseInfo(readFileSync(join(__dirname, 'fixtures', 'pgbackrest-info.json'), 'utf8'), 'e2e-restore');
const WAL = Date.UTC(2026, 10, 30, 7, 45, 0) / 1000;
const REPO = { stanza: 'e2e-restore', config: '/etc/pgbackrest/pgbackrest.conf' };
const plan = (to: string): RestorePlan => checkTarget(parseTarget(to), INFO, WAL);

const yaml = (text: string) => parse(text, { version: '1.1' }) as Record<string, any>;
const normal = () => patroniConfigFile(ctxFor(makeInventory(), 'pg1')).content;

/** A directory with a fake pgbackrest on PATH that appends its arguments (one per line) to calls.txt. */
function fakePgbackrest(): { dir: string; env: NodeJS.ProcessEnv; calls: () => string[][] } {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-restore-'));
  const bin = join(dir, 'pgbackrest');
  writeFileSync(
    bin,
    `#!/bin/sh\nfor a in "$@"; do echo "$a"; done >> ${dir}/calls.txt\necho --- >> ${dir}/calls.txt\n`,
  );
  chmodSync(bin, 0o755);
  const calls = () =>
    readFileSync(join(dir, 'calls.txt'), 'utf8')
      .split('---\n')
      .filter(Boolean)
      .map((c) => c.trim().split('\n'));
  return { dir, env: { ...process.env, PATH: `${dir}:${process.env.PATH}` }, calls };
}

/** Runs a command as Patroni does: subprocess.call(shlex.split(command)). */
function asPatroni(command: string, env: NodeJS.ProcessEnv): void {
  execFileSync(
    'python3',
    ['-c', 'import shlex,subprocess,sys; sys.exit(subprocess.call(shlex.split(sys.argv[1])))', command],
    {
      env,
    },
  );
}

describe('restore: the bootstrap configuration', () => {
  it('adds bootstrap.method pgbackrest to the normal config.yml and changes nothing else', () => {
    const before = yaml(normal());
    const after = yaml(
      withRestoreBootstrap(normal(), REPO, '/var/lib/postgresql/15/patroni', plan('2026-11-30 07:40:00')),
    );
    expect(after.bootstrap.method).toBe('pgbackrest');
    const { method, pgbackrest, ...rest } = after.bootstrap;
    expect(rest).toEqual(before.bootstrap);
    expect({ ...after, bootstrap: rest }).toEqual(before);
    expect(pgbackrest.no_params).toBe(true);
    expect(pgbackrest.keep_existing_recovery_conf).toBe(false);
    expect(pgbackrest.recovery_conf).toEqual({
      restore_command: 'pgbackrest --config=/etc/pgbackrest/pgbackrest.conf --stanza=e2e-restore archive-get %f "%p"',
      recovery_target_time: '2026-11-30 07:40:00.000+00',
      recovery_target_inclusive: 'true',
      recovery_target_action: 'promote',
      recovery_target_timeline: 'latest',
    });
    void method;
  });

  it('a label recovers to the end of that backup; latest to the end of the archive', () => {
    const label = yaml(withRestoreBootstrap(normal(), REPO, '/d', plan('20261130-072010F'))).bootstrap.pgbackrest;
    expect(label.recovery_conf.recovery_target).toBe('immediate');
    expect(label.recovery_conf.recovery_target_time).toBeUndefined();
    const latest = yaml(withRestoreBootstrap(normal(), REPO, '/d', plan('latest'))).bootstrap.pgbackrest;
    expect(
      Object.keys(latest.recovery_conf).filter(
        (k) => k.startsWith('recovery_target') && k !== 'recovery_target_action' && k !== 'recovery_target_timeline',
      ),
    ).toEqual([]);
  });

  it('its command creates the data directory (0700) and runs pgbackrest restore of the chosen set up to the time', () => {
    const f = fakePgbackrest();
    const data = join(f.dir, 'data', 'patroni');
    const cfg = yaml(withRestoreBootstrap(normal(), REPO, data, plan('2026-11-30 07:40:00')));
    asPatroni(cfg.bootstrap.pgbackrest.command, f.env);
    expect(statSync(data).mode & 0o777).toBe(0o700);
    expect(f.calls()).toEqual([
      [
        '--config=/etc/pgbackrest/pgbackrest.conf',
        '--stanza=e2e-restore',
        `--pg1-path=${data}`,
        'restore',
        '--set=20261130-072010F_20261130-073000D',
        '--type=time',
        '--target=2026-11-30 07:40:00.000+00',
      ],
    ]);
  });

  it('a label restores that set to its end', () => {
    const f = fakePgbackrest();
    const data = join(f.dir, 'd');
    asPatroni(
      yaml(withRestoreBootstrap(normal(), REPO, data, plan('20261130-072010F'))).bootstrap.pgbackrest.command,
      f.env,
    );
    expect(f.calls()[0]!.slice(3)).toEqual(['restore', '--set=20261130-072010F', '--type=immediate']);
  });

  it('restore_command fetches the WAL file PostgreSQL asks for', () => {
    const f = fakePgbackrest();
    const cfg = yaml(withRestoreBootstrap(normal(), REPO, '/d', plan('latest')));
    const cmd = String(cfg.bootstrap.pgbackrest.recovery_conf.restore_command)
      .replace('%f', '00000001000000000000000A')
      .replace('%p', 'pg_wal/RECOVERYXLOG');
    execFileSync('sh', ['-c', cmd], { env: f.env });
    expect(f.calls()).toEqual([
      [
        '--config=/etc/pgbackrest/pgbackrest.conf',
        '--stanza=e2e-restore',
        'archive-get',
        '00000001000000000000000A',
        'pg_wal/RECOVERYXLOG',
      ],
    ]);
  });
});

describe('reinit --from-backup: the replica methods', () => {
  it('pgbackrest first, basebackup as the fallback, a restore_command, nothing else changed', () => {
    const before = yaml(normal());
    const after = yaml(withBackupReplicaMethod(normal(), REPO, '/var/lib/postgresql/15/patroni'));
    const { create_replica_methods, pgbackrest, recovery_conf, ...pg } = after.postgresql;
    expect(create_replica_methods).toEqual(['pgbackrest', 'basebackup']);
    expect(pgbackrest.no_params).toBe(true);
    expect(recovery_conf.restore_command).toContain('archive-get %f "%p"');
    expect({ ...after, postgresql: pg }).toEqual(before);
  });

  it('its command restores a standby into the data directory', () => {
    const f = fakePgbackrest();
    const data = join(f.dir, 'replica');
    asPatroni(yaml(withBackupReplicaMethod(normal(), REPO, data)).postgresql.pgbackrest.command, f.env);
    expect(statSync(data).isDirectory()).toBe(true);
    expect(f.calls()).toEqual([
      [
        '--config=/etc/pgbackrest/pgbackrest.conf',
        '--stanza=e2e-restore',
        `--pg1-path=${data}`,
        'restore',
        '--type=standby',
      ],
    ]);
  });
});
