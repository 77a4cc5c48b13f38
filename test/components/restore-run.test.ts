// The order of a restore's steps, against fake operations that record what they were asked and keep a small model
// of the hosts (Patroni running, data directory present, keys in the DCS), and the scripts that move a data
// directory aside, run on a temporary directory.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RestoreFailed, runRestore, type RestoreOps } from '../../src/components/restore/run.js';
import { ASIDE_SUFFIX, clusterPrefix, moveAsideScript } from '../../src/components/restore/remote.js';

interface Model {
  running: Set<string>;
  data: Map<string, string>;
  aside: Map<string, string>;
  dcsKeys: number;
  config: Map<string, string>;
  leader?: string;
}

function fakeOps(hosts: string[], fail?: { op: keyof RestoreOps; host?: string }) {
  const calls: string[] = [];
  const m: Model = {
    running: new Set(hosts),
    data: new Map(hosts.map((h) => [h, 'old'])),
    aside: new Map(),
    dcsKeys: 7,
    config: new Map(hosts.map((h) => [h, `normal ${h}`])),
  };
  const step = (op: keyof RestoreOps, host = '') => {
    calls.push(`${op}${host ? ` ${host}` : ''}`);
    if (fail && fail.op === op && (!fail.host || fail.host === host)) throw new Error(`${op} failed`);
  };
  const ops: RestoreOps = {
    async stopPatroni(h) {
      step('stopPatroni', h);
      m.running.delete(h);
    },
    async moveAside(h) {
      step('moveAside', h);
      if (m.running.has(h)) throw new Error(`${h}: data directory moved while PostgreSQL runs`);
      const d = m.data.get(h);
      if (!d) return undefined;
      m.data.delete(h);
      m.aside.set(h, d);
      return `/data${ASIDE_SUFFIX}-x`;
    },
    async wipeDcs() {
      step('wipeDcs');
      if (m.running.size) throw new Error('keys deleted while Patroni runs');
      m.dcsKeys = 0;
    },
    async writeConfig(h, c) {
      step('writeConfig', h);
      m.config.set(h, c);
    },
    async startPatroni(h) {
      step('startPatroni', h);
      m.running.add(h);
      if (m.dcsKeys === 0 && !m.leader) {
        // No initialize key: this member bootstraps with the method of its config.yml.
        m.data.set(h, m.config.get(h)!.startsWith('restore') ? 'restored' : 'initdb');
        m.leader = h;
        m.dcsKeys = 3;
      } else m.data.set(h, `clone of ${m.leader}`);
    },
    async reloadPatroni(h) {
      step('reloadPatroni', h);
    },
    async waitLeader(h) {
      step('waitLeader', h);
      if (m.leader !== h) throw new Error(`${h} is not the leader`);
    },
    async waitStreaming(hs) {
      step(`waitStreaming ${hs.join(',')}` as keyof RestoreOps);
      if (fail?.op === 'waitStreaming') throw new Error('waitStreaming failed');
    },
    async dropAside(h) {
      step('dropAside', h);
      m.aside.delete(h);
    },
  };
  return { ops, calls, m };
}

const RUN = {
  first: 'pg1',
  others: ['pg2', 'pg3'],
  normalConfig: { pg1: 'normal pg1', pg2: 'normal pg2', pg3: 'normal pg3' },
  restoreConfig: 'restore pg1',
};

describe('restore: the order of its steps', () => {
  it('stops every member, moves the data aside, wipes the DCS, restores the first, clones the others', async () => {
    const { ops, calls, m } = fakeOps(['pg1', 'pg2', 'pg3']);
    let t = 0;
    const r = await runRestore(ops, RUN, undefined, () => (t += 1000));
    expect(calls).toEqual([
      'stopPatroni pg1',
      'stopPatroni pg2',
      'stopPatroni pg3',
      'moveAside pg1',
      'moveAside pg2',
      'moveAside pg3',
      'wipeDcs',
      'writeConfig pg1',
      'startPatroni pg1',
      'waitLeader pg1',
      'writeConfig pg1',
      'reloadPatroni pg1',
      'writeConfig pg2',
      'writeConfig pg3',
      'startPatroni pg2',
      'startPatroni pg3',
      'waitStreaming pg2,pg3',
      'dropAside pg1',
      'dropAside pg2',
      'dropAside pg3',
    ]);
    expect(m.data).toEqual(
      new Map([
        ['pg1', 'restored'],
        ['pg2', 'clone of pg1'],
        ['pg3', 'clone of pg1'],
      ]),
    );
    // Every member ends with its normal config.yml: pgha up has nothing to change.
    expect(Object.fromEntries(m.config)).toEqual(RUN.normalConfig);
    expect(m.aside.size).toBe(0);
    expect(r.kept).toEqual({});
    expect(r.phases.map((p) => p.name)).toEqual([
      'stop Patroni on every member',
      'move the data directories aside',
      "delete the cluster's keys from the DCS",
      'restore pg1 from the repository',
      "write back pg1's normal configuration",
      'clone pg2, pg3 from pg1',
      'delete the moved-aside data directories',
    ]);
    expect(r.phases.every((p) => p.seconds > 0)).toBe(true);
  });

  it('a failed bootstrap keeps every old data directory and starts no other member', async () => {
    const { ops, calls, m } = fakeOps(['pg1', 'pg2', 'pg3'], { op: 'waitLeader' });
    const e = await runRestore(ops, RUN).catch((x) => x);
    expect(e).toBeInstanceOf(RestoreFailed);
    expect(e.phase).toBe('restore pg1 from the repository');
    expect(Object.keys(e.kept)).toEqual(['pg1', 'pg2', 'pg3']);
    expect(calls).not.toContain('startPatroni pg2');
    expect(calls.filter((c) => c.startsWith('dropAside'))).toEqual([]);
    expect([...m.aside.values()]).toEqual(['old', 'old', 'old']);
  });

  it('replicas that do not stream keep the old directories too', async () => {
    const { ops, calls } = fakeOps(['pg1', 'pg2', 'pg3'], { op: 'waitStreaming' });
    const e = await runRestore(ops, RUN).catch((x) => x);
    expect(e.phase).toBe('clone pg2, pg3 from pg1');
    expect(Object.keys(e.kept)).toHaveLength(3);
    expect(calls.filter((c) => c.startsWith('dropAside'))).toEqual([]);
  });

  it('a member that cannot be stopped stops the restore before anything is moved or deleted', async () => {
    const { ops, calls, m } = fakeOps(['pg1', 'pg2', 'pg3'], { op: 'stopPatroni', host: 'pg2' });
    const e = await runRestore(ops, RUN).catch((x) => x);
    expect(e.phase).toBe('stop Patroni on every member');
    expect(calls.some((c) => c.startsWith('moveAside') || c === 'wipeDcs')).toBe(false);
    expect(m.dcsKeys).toBe(7);
  });
});

describe('restore: remote pieces', () => {
  it("the cluster's DCS prefix", () => {
    expect(clusterPrefix('/service/', 'e2e-restore')).toBe('/service/e2e-restore/');
    expect(clusterPrefix('service', 'c1')).toBe('/service/c1/');
  });

  it('moves a data directory aside and prints where; prints nothing when there is none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-aside-'));
    const data = join(dir, 'patroni');
    mkdirSync(data);
    writeFileSync(join(data, 'PG_VERSION'), '15\n');
    const out = execFileSync('sh', ['-c', moveAsideScript(data, '20261130T074000')], { encoding: 'utf8' }).trim();
    expect(out).toBe(`${data}${ASIDE_SUFFIX}-20261130T074000`);
    expect(existsSync(data)).toBe(false);
    expect(readFileSync(join(out, 'PG_VERSION'), 'utf8')).toBe('15\n');
    expect(execFileSync('sh', ['-c', moveAsideScript(data, 'x')], { encoding: 'utf8' })).toBe('');
  });
});

describe('reinit --from-backup: which method Patroni used', () => {
  it("reads Patroni's log line, the last one when it tried more than once", async () => {
    const { createdWith } = await import('../../src/cli/commands/reinit-backup.js');
    const log = [
      'Nov 30 07:31:02 pg3 patroni[812]: INFO: replica has been created using basebackup',
      'Nov 30 07:41:10 pg3 patroni[901]: INFO: trying to bootstrap from leader',
      'Nov 30 07:41:19 pg3 patroni[901]: INFO: replica has been created using pgbackrest',
    ].join('\n');
    expect(createdWith(log)).toBe('pgbackrest');
    expect(createdWith(log.split('\n')[0]!)).toBe('basebackup');
    expect(createdWith('Nov 30 07:41:10 pg3 patroni[901]: ERROR: Error creating replica using method pgbackrest')).toBe(
      undefined,
    );
  });
});
