import { describe, expect, it } from 'vitest';
import {
  decideRestarts,
  describeAction,
  paramChanges,
  restartReasons,
  sameSetting,
  type PgSetting,
  type RestartMember,
} from '../../src/components/patroni/restart-plan.js';

const row = (name: string, setting: string, unit: string, context: string, vartype = 'integer'): PgSetting => ({
  name,
  setting,
  unit,
  context,
  vartype,
  pending: false,
});

const SETTINGS = [
  row('shared_buffers', '16384', '8kB', 'postmaster'),
  row('max_connections', '200', '', 'postmaster'),
  row('work_mem', '4096', 'kB', 'user'),
  row('wal_keep_size', '256', 'MB', 'sighup'),
  row('hot_standby', 'on', '', 'postmaster', 'bool'),
  row('wal_level', 'replica', '', 'postmaster', 'enum'),
];

function members(leaderName = 'pg2', sync = 'pg3'): RestartMember[] {
  return ['pg1', 'pg2', 'pg3'].map((name) => ({
    name,
    role: name === leaderName ? 'leader' : name === sync ? 'sync_standby' : 'replica',
    state: 'running',
    lag: name === leaderName ? undefined : 0,
    nofailover: false,
    pending: false,
    settings: SETTINGS,
  }));
}

function decide(params: Record<string, unknown>, opts: { inPlace?: boolean; ms?: RestartMember[] } = {}) {
  const ms = opts.ms ?? members();
  const reasons = new Map<string, string[]>();
  const lowered = new Set<string>();
  for (const m of ms) {
    const cs = paramChanges(params, m.settings!);
    reasons.set(m.name, restartReasons(m, cs));
    cs.filter((c) => c.lowered).forEach((c) => lowered.add(c.name));
  }
  return decideRestarts({
    members: ms,
    reasons,
    lowered: [...lowered],
    inPlace: opts.inPlace ?? false,
    maxLag: 1 << 20,
  });
}

describe('restart decision: which settings need a restart (pg_settings context)', () => {
  it('compares with units the way PostgreSQL stores them', () => {
    expect(sameSetting('128MB', SETTINGS[0]!)).toBe(true);
    expect(sameSetting('256MB', SETTINGS[0]!)).toBe(false);
    expect(sameSetting(200, SETTINGS[1]!)).toBe(true);
    expect(sameSetting('4MB', SETTINGS[2]!)).toBe(true);
    expect(sameSetting('true', SETTINGS[4]!)).toBe(true);
    expect(sameSetting('REPLICA', SETTINGS[5]!)).toBe(true);
  });

  it('a postmaster setting restarts; a user or sighup one is reload only', () => {
    const cs = paramChanges({ shared_buffers: '256MB', work_mem: '8MB', wal_keep_size: '256MB' }, SETTINGS);
    expect(cs.map((c) => [c.name, c.current, c.desired, c.context, c.restart])).toEqual([
      ['shared_buffers', '128MB', '256MB', 'postmaster', true],
      ['work_mem', '4MB', '8MB', 'user', false],
    ]);
  });

  it('a setting left pending in pg_settings is a reason too', () => {
    const cs = paramChanges({}, [{ ...row('max_wal_senders', '10', '', 'postmaster'), pending: true }]);
    expect(cs.map((c) => [c.name, c.restart])).toEqual([['max_wal_senders', true]]);
  });
});

describe('restart decision: the order', () => {
  it('raising: replicas first, the leader last after a switchover to the synchronous standby', () => {
    const a = decide({ shared_buffers: '256MB', max_connections: 300 });
    expect(a.map((x) => [x.host, x.kind, x.candidate])).toEqual([
      ['pg1', 'restart', undefined],
      ['pg3', 'restart', undefined],
      ['pg2', 'switchover', 'pg3'],
    ]);
  });

  it('lowering max_connections: the leader first, in place, then the replicas', () => {
    const a = decide({ max_connections: 100 });
    expect(a.map((x) => [x.host, x.kind])).toEqual([
      ['pg2', 'restart'],
      ['pg1', 'restart'],
      ['pg3', 'restart'],
    ]);
    expect(a[0]!.note).toContain('max_connections is lowered');
  });

  it('in place: replicas first, the leader last without a switchover', () => {
    const a = decide({ shared_buffers: '256MB' }, { inPlace: true });
    expect(a.map((x) => [x.host, x.kind])).toEqual([
      ['pg1', 'restart'],
      ['pg3', 'restart'],
      ['pg2', 'restart'],
    ]);
  });

  it('only the leader pending: a switchover to the least lagging healthy replica when no synchronous standby', () => {
    const ms = members('pg2', '').map((m) => ({
      ...m,
      pending: m.name === 'pg2',
      lag: m.name === 'pg1' ? 5000 : m.name === 'pg3' ? 10 : undefined,
    }));
    const a = decide({}, { ms });
    expect(a.map((x) => [x.host, x.kind, x.candidate, x.reasons])).toEqual([
      ['pg2', 'switchover', 'pg3', ['Patroni reports pending_restart']],
    ]);
  });

  it('no healthy replica (lagging, nofailover, stopped): the leader restarts in place, saying why', () => {
    const ms = members().map((m) => ({
      ...m,
      pending: m.name === 'pg2',
      ...(m.name === 'pg1' ? { lag: 1 << 30 } : m.name === 'pg3' ? { nofailover: true } : {}),
    }));
    const a = decide({}, { ms });
    expect(a.map((x) => [x.host, x.kind])).toEqual([['pg2', 'restart']]);
    expect(a[0]!.note).toContain('no running replica');
  });

  it('nothing differs: nobody restarts', () => {
    expect(decide({ shared_buffers: '128MB', work_mem: '8MB' })).toEqual([]);
  });

  it('the plan line names the member, the order reason, the parameter and its context', () => {
    const a = decide({ shared_buffers: '256MB' });
    expect(a.map(describeAction)).toEqual([
      '1. pg1: replica, before the leader; because shared_buffers 128MB -> 256MB (context postmaster: restart)',
      '2. pg3: replica, before the leader; because shared_buffers 128MB -> 256MB (context postmaster: restart)',
      '3. pg2 (leader): leader last: switchover to pg3 (synchronous standby) first, then restarted as a replica if ' +
        'still pending; because shared_buffers 128MB -> 256MB (context postmaster: restart)',
    ]);
  });
});
