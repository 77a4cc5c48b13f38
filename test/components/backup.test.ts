// The backup component: rendered pgBackRest configs and units, archiving in Patroni's DCS settings and in the
// restart decision, the parsers of pgbackrest info / systemd-analyze / pg_stat_archiver, and the guard scripts run
// against a fake pgbackrest.
import { describe, expect, it } from 'vitest';
import type { FileResource, Resource } from '../../src/engine/types.js';
import type { Inventory } from '../../src/inventory/types.js';
import { backupSteps, pgbackrestConfig } from '../../src/components/backup/steps.js';
import { PGBACKREST_CONF } from '../../src/components/backup/settings.js';
import {
  archiveFailing,
  longestGap,
  parseArchiver,
  parseCalendar,
  parseInfo,
} from '../../src/components/backup/facts.js';
import { allowedAgeSec } from '../../src/components/backup/checks.js';
import { hasBackupScript, stanzaReadyScript } from '../../src/components/backup/scripts.js';
import { formatBackups } from '../../src/components/backup/view.js';
import { patroniSteps } from '../../src/components/patroni/steps.js';
import { clusterParameters, memberParameters } from '../../src/components/patroni/settings.js';
import { paramChanges } from '../../src/components/patroni/restart-plan.js';
import { ctxFor, makeInventory, plan, stepById } from './helpers.js';
import { fakeBin } from '../engine/fake-bin.js';

function withBackupHost(vars: Record<string, unknown> = {}): Inventory {
  const inv = makeInventory(vars);
  inv.hosts.push({
    name: 'bk1',
    address: '10.77.0.31',
    roles: ['backup'],
    groups: ['backup', 'all'],
    ssh: { user: 'root', port: 22, become: false },
    vars,
  });
  inv.groups.backup = ['bk1'];
  inv.groups.all!.push('bk1');
  return inv;
}

const files = (rs: Resource[]) => rs.filter((r): r is FileResource => r.kind === 'file');

describe('pgBackRest configs', () => {
  it('the repository host reaches every member over TLS, keeps the retention, backs up from a standby', () => {
    const conf = pgbackrestConfig(ctxFor(withBackupHost({ backup_retention_full: 4 }), 'bk1'));
    expect(conf).toContain('[demo]\n');
    expect(conf).toMatch(/^repo1-retention-full=4$/m);
    expect(conf).toMatch(/^backup-standby=y$/m);
    for (const [i, a] of [
      [1, '10.77.0.11'],
      [2, '10.77.0.12'],
      [3, '10.77.0.13'],
    ] as const) {
      expect(conf).toMatch(new RegExp(`^pg${i}-host=${a.replace(/\./g, '\\.')}$`, 'm'));
      expect(conf).toMatch(new RegExp(`^pg${i}-host-type=tls$`, 'm'));
      expect(conf).toMatch(new RegExp(`^pg${i}-path=/var/lib/postgresql/15/patroni$`, 'm'));
    }
    // Only the members' certificates may use the repository server.
    expect(conf.match(/^tls-server-auth=.*$/gm)).toEqual([
      'tls-server-auth=pg1=demo',
      'tls-server-auth=pg2=demo',
      'tls-server-auth=pg3=demo',
    ]);
  });

  it('a member pushes WAL to the repository over TLS and lets only the repository host in', () => {
    const conf = pgbackrestConfig(ctxFor(withBackupHost({ backup_stanza: 'main' }), 'pg2'));
    expect(conf).toMatch(/^repo1-host=10\.77\.0\.31$/m);
    expect(conf).toMatch(/^repo1-host-type=tls$/m);
    expect(conf).toMatch(/^tls-server-auth=bk1=main$/m);
    expect(conf).toContain('[main]\npg1-path=/var/lib/postgresql/15/patroni\n');
  });

  it('no backup host: nothing is installed or configured; a TLS server left by an earlier run is stopped', async () => {
    const inv = makeInventory();
    for (const step of backupSteps)
      for (const h of inv.hosts) {
        const want = await plan(step, ctxFor(inv, h.name), {});
        if (step.id === 'backup.config' && h.roles.includes('postgres'))
          expect(want).toEqual([{ kind: 'service', name: 'pgbackrest-server', enabled: false, state: 'stopped' }]);
        else expect(want).toEqual([]);
      }
  });

  it('timers from the schedules; an empty schedule keeps its timer stopped', async () => {
    const inv = withBackupHost({ backup_incr_schedule: '*-*-* 12:00:00', backup_diff_schedule: '' });
    const rs = await plan(stepById(backupSteps, 'backup.schedule'), ctxFor(inv, 'bk1'), {});
    const timer = files(rs).find((f) => f.path === '/etc/systemd/system/pgbackrest-incr.timer')!;
    expect(timer.content).toMatch(/^OnCalendar=\*-\*-\* 12:00:00$/m);
    expect(files(rs).some((f) => f.path.endsWith('pgbackrest-diff.timer'))).toBe(false);
    expect(rs).toContainEqual({ kind: 'service', name: 'pgbackrest-diff.timer', enabled: false, state: 'stopped' });
    const svc = files(rs).find((f) => f.path === '/etc/systemd/system/pgbackrest-full.service')!;
    expect(svc.content).toMatch(/^ExecStart=\/usr\/bin\/pgbackrest --config=\S+ --stanza=demo --type=full backup$/m);
    expect(svc.content).toMatch(/^User=pgbackrest$/m);
  });

  it('the config step installs the certificates with the key readable by the service user only (plan: none made)', async () => {
    const inv = withBackupHost();
    const rs = await plan(stepById(backupSteps, 'backup.config'), ctxFor(inv, 'pg1', { check: true }), {});
    const key = files(rs).find((f) => f.path.endsWith('host.key'))!;
    expect(key).toMatchObject({ owner: 'postgres', mode: '0600', secret: true });
    expect(files(rs).find((f) => f.path === PGBACKREST_CONF)).toBeDefined();
    const repoKey = files(
      await plan(stepById(backupSteps, 'backup.config'), ctxFor(inv, 'bk1', { check: true }), {}),
    ).find((f) => f.path.endsWith('host.key'))!;
    expect(repoKey.owner).toBe('pgbackrest');
  });
});

describe('archiving in the DCS', () => {
  it('with a backup host every member archives through pgBackRest (DCS), replicas restore from it', async () => {
    const inv = withBackupHost();
    const params = clusterParameters(inv, inv.hosts[0]!);
    expect(params.archive_mode).toBe('on');
    expect(params.archive_command).toBe('pgbackrest --stanza=demo archive-push "%p"');
    const rs = await plan(stepById(patroniSteps, 'patroni.config'), ctxFor(inv, 'pg1'), {});
    const cfg = files(rs).find((f) => f.path === '/etc/patroni/config.yml')!.content;
    expect(cfg).toContain('archive_command: pgbackrest --stanza=demo archive-push "%p"');
    expect(cfg).toMatch(/archive_mode: "on"/);
    expect(cfg).toContain('restore_command: pgbackrest --stanza=demo archive-get %f "%p"');
    // Only in the DCS part: the host's own parameters equal the cluster's.
    expect(cfg.split('archive_command').length - 1).toBe(1);
  });

  it('without one nothing about archiving is set', () => {
    const inv = makeInventory();
    expect(clusterParameters(inv, inv.hosts[0]!).archive_mode).toBeUndefined();
  });

  it('turning backups on restarts the members (archive_mode is a postmaster setting)', () => {
    const inv = withBackupHost();
    const rows = [
      { name: 'archive_mode', setting: 'off', unit: '', context: 'postmaster', vartype: 'enum', pending: false },
      {
        name: 'archive_command',
        setting: '(disabled)',
        unit: '',
        context: 'sighup',
        vartype: 'string',
        pending: false,
      },
    ];
    const changes = paramChanges(memberParameters(inv, inv.hosts[0]!), rows);
    expect(changes.map((c) => [c.name, c.restart])).toEqual([
      ['archive_command', false],
      ['archive_mode', true],
    ]);
    const on = rows.map((r) => (r.name === 'archive_mode' ? { ...r, setting: 'on' } : r));
    on[1] = { ...on[1]!, setting: 'pgbackrest --stanza=demo archive-push "%p"' };
    expect(paramChanges(memberParameters(inv, inv.hosts[0]!), on)).toEqual([]);
  });
});

// Shaped like pgBackRest 2.45's `info --output=json` (fields trimmed to those read, plus some that are not).
const INFO = JSON.stringify([
  {
    name: 'demo',
    status: { code: 0, message: 'ok', lock: { backup: { held: false } } },
    archive: [{ id: '15-1', min: '000000010000000000000003', max: '000000020000000000000009' }],
    backup: [
      {
        label: '20261130-071000F',
        type: 'full',
        timestamp: { start: 1796022600, stop: 1796022612 },
        info: { size: 23000000, delta: 23000000, repository: { size: 3000000, delta: 3000000 } },
        archive: { start: '000000010000000000000004', stop: '000000010000000000000004' },
        error: false,
      },
      {
        label: '20261130-071000F_20261130-080000D',
        type: 'diff',
        prior: '20261130-071000F',
        timestamp: { start: 1796025600, stop: 1796025605 },
        info: { size: 23100000, delta: 200000, repository: { size: 3010000, delta: 40000 } },
        archive: { start: '000000020000000000000007', stop: '000000020000000000000007' },
      },
    ],
  },
]);

describe('parsers', () => {
  it('pgbackrest info: backups, sizes, WAL range, repository size', () => {
    const [s] = parseInfo(INFO);
    expect(s!.name).toBe('demo');
    expect(s!.backups.map((b) => [b.label, b.type, b.stop - b.start, b.repoSize])).toEqual([
      ['20261130-071000F', 'full', 12, 3000000],
      ['20261130-071000F_20261130-080000D', 'diff', 5, 3010000],
    ]);
    expect(s!.wal).toEqual({ min: '000000010000000000000003', max: '000000020000000000000009' });
    expect(s!.repoSize).toBe(3040000);
    expect(s!.running).toBeUndefined();
    expect(formatBackups(s!)).toMatch(/20261130-071000F_20261130-080000D\s+diff\s+2026-/);
    expect(() => parseInfo('ERROR: [055]: unable to load info file')).toThrow(/no JSON/);
  });

  it('a running backup shows its progress', () => {
    const d = JSON.parse(INFO);
    d[0].status.lock.backup = { held: true, 'size-cplt': 50, size: 200 };
    expect(parseInfo(JSON.stringify(d))[0]!.running).toEqual({ done: 50, total: 200 });
  });

  it('systemd-analyze calendar: the longest gap between the schedules', () => {
    const text = [
      '  Original form: Sun *-*-* 01:00:00',
      'Normalized form: Sun *-*-* 01:00:00',
      '    Next elapse: Sun 2026-12-06 01:00:00 UTC',
      '       From now: 5 days left',
      '       Iter. #2: Sun 2026-12-13 01:00:00 UTC',
      '',
      '  Original form: Mon..Sat *-*-* 01:00:00',
      'Normalized form: Mon..Sat *-*-* 01:00:00',
      '    Next elapse: Tue 2026-12-01 01:00:00 UTC',
      '       Iter. #2: Wed 2026-12-02 01:00:00 UTC',
      '       Iter. #3: Thu 2026-12-03 01:00:00 UTC',
      '       Iter. #4: Fri 2026-12-04 01:00:00 UTC',
      '       Iter. #5: Sat 2026-12-05 01:00:00 UTC',
      '       Iter. #6: Mon 2026-12-07 01:00:00 UTC',
    ].join('\n');
    const el = parseCalendar(text);
    expect(el.map((l) => l.length)).toEqual([2, 6]);
    expect(longestGap(el)).toBe(86400);
    expect(longestGap([el[0]!])).toBe(7 * 86400);
    expect(allowedAgeSec(86400, { maxAgeGraceHours: 6 })).toBe(86400 + 6 * 3600);
  });

  it('pg_stat_archiver: failing when the last failure is newer than the last success', () => {
    const ok = parseArchiver('12|00000001000000000000000C|1796022600.5|1|000000010000000000000002|1796022000.1');
    expect(archiveFailing(ok)).toBe(false);
    const bad = parseArchiver('12|00000001000000000000000C|1796022600.5|3|00000001000000000000000D|1796022700');
    expect(archiveFailing(bad)).toBe(true);
    expect(archiveFailing(parseArchiver('0|||2|000000010000000000000001|1796022000'))).toBe(true);
    expect(archiveFailing(parseArchiver('0|||0||'))).toBe(false);
    expect(() => parseArchiver('garbage')).toThrow(/unexpected row/);
  });
});

describe('guard scripts against a fake pgbackrest', () => {
  const fake = (json: string) =>
    fakeBin({ runuser: `shift 3; [ "$1" = pgbackrest ] || exit 9; cat <<'JSON'\n${json}\nJSON` });

  it('stanza ready: ok or no backup yet; a backup exists: ok with a backup', async () => {
    const none = JSON.stringify([{ name: 'demo', status: { code: 2, message: 'no valid backups' }, backup: [] }]);
    const missing = JSON.stringify([{ name: 'demo', status: { code: 1, message: 'missing stanza path' } }]);
    let f = fake(none);
    expect((await f.t.exec(stanzaReadyScript('demo'))).code).toBe(0);
    expect((await f.t.exec(hasBackupScript('demo'))).code).toBe(1);
    expect(f.calls()[0]).toMatch(/^runuser -u pgbackrest -- pgbackrest --config=\S+ --stanza=demo --output=json info$/);
    f = fake(missing);
    expect((await f.t.exec(stanzaReadyScript('demo'))).code).toBe(1);
    f = fake(INFO);
    expect((await f.t.exec(hasBackupScript('demo'))).code).toBe(0);
    f = fake('not json');
    expect((await f.t.exec(stanzaReadyScript('demo'))).code).toBe(1);
  });
});
