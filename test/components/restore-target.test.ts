import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkTarget,
  describeTarget,
  parseInfo,
  parseTarget,
  walTime,
  type RestoreTarget,
} from '../../src/components/restore/target.js';
import { UserError } from '../../src/util/errors.js';

const INFO = readFileSync(join(__dirname, 'fixtures', 'pgbackrest-info.json'), 'utf8');
// Backups of the fixture: full ends 07:20:16, diff ends 07:30:06 (UTC, 2026-11-30).
const FULL_END = Date.UTC(2026, 10, 30, 7, 20, 16) / 1000;
const WAL_TIME = Date.UTC(2026, 10, 30, 7, 45, 0) / 1000;
const REPO_LS = JSON.stringify({
  '.': { type: 'path' },
  '00000002000000000000000B-1c6b5e7a0d4f1b1f5b3e8a1d2c3b4a5f6e7d8c9b.lz4': {
    type: 'file',
    size: 812,
    time: WAL_TIME - 60,
  },
  '00000002000000000000000C-8a1d2c3b4a5f6e7d8c9b1c6b5e7a0d4f1b1f5b3e.lz4': { type: 'file', size: 790, time: WAL_TIME },
  '00000002.history': { type: 'file', size: 42, time: WAL_TIME - 120 },
});

function refused(f: () => unknown): UserError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error('not refused');
}

describe('restore target: --to', () => {
  it('reads times with and without a zone, in UTC', () => {
    const ms = (t: RestoreTarget) => (t.kind === 'time' ? t.ms : NaN);
    expect(ms(parseTarget('2026-11-30 07:40:01'))).toBe(Date.UTC(2026, 10, 30, 7, 40, 1));
    expect(ms(parseTarget('2026-11-30T07:40:01.250Z'))).toBe(Date.UTC(2026, 10, 30, 7, 40, 1, 250));
    expect(ms(parseTarget('2026-11-30 08:40:01+01'))).toBe(Date.UTC(2026, 10, 30, 7, 40, 1));
    expect(ms(parseTarget('2026-11-30 02:10:01-05:30'))).toBe(Date.UTC(2026, 10, 30, 7, 40, 1));
    expect(ms(parseTarget('2026-11-30 07:40'))).toBe(Date.UTC(2026, 10, 30, 7, 40, 0));
    expect(parseTarget('2026-11-30 08:40:01.5+01:00')).toMatchObject({ text: '2026-11-30 07:40:01.500+00' });
  });

  it('reads latest and backup labels', () => {
    expect(parseTarget('latest')).toEqual({ kind: 'latest' });
    expect(parseTarget('20261130-072010F')).toEqual({ kind: 'label', label: '20261130-072010F' });
    expect(parseTarget('20261130-072010F_20261130-073000D')).toEqual({
      kind: 'label',
      label: '20261130-072010F_20261130-073000D',
    });
  });

  it('refuses what is none of these, and dates that do not exist', () => {
    for (const bad of [
      '',
      'yesterday',
      '2026-13-01 00:00',
      '2026-02-30 10:00',
      '2026-11-30 24:00',
      '2026-11-30 07:61',
    ]) {
      expect(refused(() => parseTarget(bad)).message).toMatch(/--to|needs --to/);
    }
    expect(refused(() => parseTarget('2026-11-30 07:40+15')).message).toMatch(/no such zone/);
  });
});

describe('restore target: against pgbackrest info --output=json', () => {
  const info = parseInfo(INFO, 'e2e-restore')!;

  it('reads the stanza: backups oldest first, the newest archived WAL', () => {
    expect(info.backups.map((b) => [b.label, b.type, b.stop])).toEqual([
      ['20261130-072010F', 'full', FULL_END],
      ['20261130-072010F_20261130-073000D', 'diff', FULL_END + 590],
    ]);
    expect(info.walMax).toEqual({ archiveId: '15-1', segment: '00000002000000000000000C' });
    expect(parseInfo(INFO, 'nope')).toBeUndefined();
    expect(() => parseInfo('ERROR: [056]: unable to find stanza', 'x')).toThrow(/did not print JSON/);
  });

  it("takes the newest WAL's time from repo-ls", () => {
    expect(walTime(REPO_LS, '00000002000000000000000C')).toBe(WAL_TIME);
    expect(walTime(REPO_LS, '00000002000000000000000D')).toBeUndefined();
    expect(walTime('not json', '00000002000000000000000C')).toBeUndefined();
  });

  it('a time in range restores from the newest backup that ended before it', () => {
    const at = (s: string) => checkTarget(parseTarget(s), info, WAL_TIME);
    expect(at('2026-11-30 07:25:00').backup.label).toBe('20261130-072010F');
    expect(at('2026-11-30 07:35:00').backup.label).toBe('20261130-072010F_20261130-073000D');
    expect(at('2026-11-30 07:20:16').backup.label).toBe('20261130-072010F');
    expect(at('2026-11-30 07:45:00').range).toEqual({ from: FULL_END, to: WAL_TIME });
  });

  it('refuses a time before the oldest backup ended, naming the range', () => {
    const e = refused(() => checkTarget(parseTarget('2026-11-30 07:20:15'), info, WAL_TIME));
    expect(e.message).toContain('before the oldest backup ended');
    expect(e.message).toContain('from 2026-11-30 07:20:16.000+00 (end of backup 20261130-072010F)');
    expect(e.message).toContain('to 2026-11-30 07:45:00.000+00 (newest archived WAL 00000002000000000000000C)');
  });

  it('refuses a time after the newest archived WAL, naming the range', () => {
    const e = refused(() => checkTarget(parseTarget('2026-11-30 07:45:01'), info, WAL_TIME));
    expect(e.message).toContain('after the newest archived WAL');
    expect(e.message).toContain('2026-11-30 07:45:00.000+00');
    expect(e.hint).toContain('--to latest');
  });

  it('takes a label the repository has and refuses one it has not', () => {
    const p = checkTarget(parseTarget('20261130-072010F'), info, WAL_TIME);
    expect(p.backup.stop).toBe(FULL_END);
    expect(describeTarget(p)).toBe('the end of backup 20261130-072010F (2026-11-30 07:20:16.000+00)');
    const e = refused(() => checkTarget(parseTarget('20261130-060000F'), info, WAL_TIME));
    expect(e.message).toContain('no such backup');
    expect(e.hint).toContain('20261130-072010F, 20261130-072010F_20261130-073000D');
  });

  it('latest restores the newest backup', () => {
    expect(checkTarget({ kind: 'latest' }, info, WAL_TIME).backup.label).toBe('20261130-072010F_20261130-073000D');
  });

  it('refuses a stanza without backups, and a missing stanza', () => {
    const none = parseInfo(INFO, 'other');
    expect(refused(() => checkTarget({ kind: 'latest' }, none, undefined)).message).toContain(
      'no backup of stanza other (no valid backups)',
    );
    expect(refused(() => checkTarget({ kind: 'latest' }, undefined, undefined)).hint).toContain('pgha backup');
  });
});

describe('restore: the repository host', () => {
  it('is the host with role backup; without one the command is refused, naming the inventory', async () => {
    const { makeInventory } = await import('./helpers.js');
    const { pgbackrestOf } = await import('../../src/components/restore/pgbackrest.js');
    const inv = makeInventory();
    const e = refused(() => pgbackrestOf(inv, 'pgha restore'));
    expect(e.message).toBe(
      'pgha restore needs a pgBackRest repository, and no host of /tmp/pgha-test/lab.yml has the role backup',
    );
    inv.hosts.push({ ...inv.hosts[3]!, name: 'bk1', address: '10.77.0.31', roles: ['backup'] });
    expect(pgbackrestOf(inv, 'pgha restore')).toMatchObject({ stanza: 'demo', repoUser: 'pgbackrest' });
    expect(pgbackrestOf(inv, 'pgha restore').repo.name).toBe('bk1');
  });
});
