// Bad backup input refused at load, with its line: a schedule that does not parse, a retention of 0, backup
// variables without a backup host, two backup hosts. And the calendar syntax check itself.
import { describe, expect, it } from 'vitest';
import { BASE, errorLines, load, loadError } from '../inventory/helpers.js';
import { calendarProblem } from '../../src/components/backup/calendar.js';
import { backupsOn, backupSettings } from '../../src/components/backup/settings.js';

const WITH_BK = BASE + '  bk1: {address: 10.77.0.31, roles: [backup]}\n';

describe('backup inventory', () => {
  it('a host with role backup turns backups on, with the documented defaults', () => {
    const inv = load(WITH_BK);
    expect(backupsOn(inv)).toBe(true);
    expect(backupSettings(inv)).toMatchObject({
      stanza: 'demo',
      fullSchedule: 'Sun *-*-* 01:00:00',
      diffSchedule: 'Mon..Sat *-*-* 01:00:00',
      incrSchedule: '',
      retentionFull: 2,
      retentionDiff: 7,
      tlsPort: 8432,
    });
    expect(backupsOn(load(BASE))).toBe(false);
  });

  it('a schedule that does not parse is refused at its line', () => {
    const e = loadError(WITH_BK.replace('hosts:', 'vars:\n  backup_full_schedule: "Sun *-*-* 25:00"\nhosts:'));
    expect(errorLines(e)).toEqual([
      {
        line: 7,
        field: 'vars.backup_full_schedule',
        message: expect.stringMatching(/is not a systemd calendar event .*25 is outside 0\.\.23/),
      },
    ]);
    const e2 = loadError(WITH_BK.replace('hosts:', 'vars:\n  backup_diff_schedule: "every day"\nhosts:'));
    expect(errorLines(e2)[0]).toMatchObject({ line: 7, field: 'vars.backup_diff_schedule' });
  });

  it('a retention of 0 is refused at its line', () => {
    const e = loadError(WITH_BK.replace('hosts:', 'vars:\n  backup_retention_full: 0\nhosts:'));
    expect(errorLines(e)).toEqual([
      { line: 7, field: 'vars.backup_retention_full', message: expect.stringMatching(/must be >= 1/) },
    ]);
  });

  it('backup variables without a host of role backup are refused', () => {
    const e = loadError(BASE.replace('hosts:', 'vars:\n  backup_retention_full: 3\nhosts:'));
    expect(errorLines(e)).toEqual([
      {
        line: 7,
        field: 'vars.backup_retention_full',
        message: expect.stringMatching(/is set but no host has the backup role/),
      },
    ]);
  });

  it('two backup hosts are refused (one repository)', () => {
    const e = loadError(WITH_BK + '  bk2: {address: 10.77.0.32, roles: [backup]}\n');
    expect(errorLines(e)).toEqual([
      { line: 13, field: 'hosts.bk2.roles', message: expect.stringMatching(/hosts bk1, bk2 have the backup role/) },
    ]);
  });
});

describe('systemd calendar events', () => {
  it.each([
    'daily',
    'weekly',
    'Sun *-*-* 01:00:00',
    'Mon..Sat *-*-* 01:00:00',
    'Mon,Wed,Fri 02:30',
    '*-*-* 07..23:00:00',
    '*-*-* *:0/15',
    '2026-01-01 00:00:00 UTC',
    '12-25 06:00',
    '*-*-01 03:00:00 Europe/Berlin',
    '*-02~1 00:00',
  ])('%s parses', (expr) => {
    expect(calendarProblem(expr)).toBeUndefined();
  });

  it.each([
    ['', /empty/],
    ['every day', /'every' is not a weekday/],
    ['Sun *-*-* 25:00', /25 is outside 0\.\.23/],
    ['*-13-01 00:00', /13 is outside 1\.\.12/],
    ['Sun *-*-* 01:61', /61 is outside 0\.\.59/],
    ['Funday 01:00', /'Funday' is not/],
    ['01:00 02:00', /'02:00' is not/],
  ])('%j is refused', (expr, why) => {
    expect(calendarProblem(expr)).toMatch(why);
  });
});
