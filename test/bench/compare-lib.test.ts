// The pure parts of the Ansible comparison: figures, the table, Ansible's recap and task times, pgha's --json
// profile, and the benchmark's own inventory (loaded as pgha loads it).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BASE_VARS,
  CHANGED_VARS,
  benchInventory,
  parseRecap,
  parseTaskTimes,
  pghaProfile,
  ratio,
  recapTotals,
  rows,
  secondsByComponent,
  summarize,
  table,
} from '../../bench/compare-lib.js';
import { loadInventory } from '../../src/inventory/load.js';
import { catalog } from '../../src/components/index.js';
import { haproxySettings } from '../../src/components/haproxy/settings.js';
import { patroniSettings } from '../../src/components/patroni/settings.js';
import { tlsEnabled } from '../../src/components/tls/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'pgha-compare-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('summarize and ratio', () => {
  it('gives min, median and max whatever the order; an even count takes the mean of the middle two', () => {
    expect(summarize([30, 10, 20])).toEqual({ min: 10, median: 20, max: 30, n: 3 });
    expect(summarize([4, 1, 3, 2])).toEqual({ min: 1, median: 2.5, max: 4, n: 4 });
    expect(() => summarize([])).toThrow(/no values/);
  });

  it('divides the medians, pgha over Ansible', () => {
    expect(ratio(summarize([50, 60, 70]), summarize([100, 120, 200]))).toBe(0.5);
    expect(() => ratio(summarize([1]), summarize([0]))).toThrow(/not positive/);
  });
});

describe('rows and table', () => {
  const t = {
    pgha: { bootstrap: [100, 90, 110], noop: [4, 5, 6], change: [10, 12, 11] },
    ansible: { bootstrap: [200, 180, 240], noop: [40, 50, 45], change: [60, 55, 50] },
  };

  it('has one row per scenario measured for both tools, with the ratio of the medians', () => {
    const rs = rows(t);
    expect(rs.map((r) => r.scenario)).toEqual(['bootstrap', 'noop', 'change']);
    expect(rs[0]!.ratio).toBe(0.5);
    expect(rs[1]!.ratio).toBeCloseTo(5 / 45);
    expect(rows({ ...t, ansible: { ...t.ansible, change: [] } }).map((r) => r.scenario)).toEqual(['bootstrap', 'noop']);
  });

  it('prints min / median / max in seconds and the ratio', () => {
    const lines = table(rows(t)).split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[2]).toBe('| bootstrap | 90.0 / 100.0 / 110.0 | 180.0 / 200.0 / 240.0 | 0.50 |');
    expect(lines[4]).toBe('| change | 10.0 / 11.0 / 12.0 | 50.0 / 55.0 / 60.0 | 0.20 |');
  });
});

describe("Ansible's output", () => {
  const out = [
    'TASK [etcd : Install etcd] ****',
    'changed: [pg1]',
    'PLAY RECAP *********************************************************************',
    'lb1                        : ok=16   changed=2    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0   ',
    'pg1                        : ok=30   changed=3    unreachable=1    failed=1    skipped=3    rescued=0    ignored=0   ',
    '',
    'Monday 30 November 2026  13:50:07 +0000 (0:00:00.866)       0:04:01.436 ******* ',
    '=============================================================================== ',
    'patroni : Install PostgreSQL and Patroni ------------------------------- 58.79s',
    'etcd : Install etcd ---------------------------------------------------- 33.45s',
    'patroni : Wait until every member runs, one leader and the replicas streaming --- 7.84s',
  ].join('\n');

  it('reads the recap per host and sums it', () => {
    const r = parseRecap(out);
    expect(r).toEqual({
      lb1: { ok: 16, changed: 2, unreachable: 0, failed: 0 },
      pg1: { ok: 30, changed: 3, unreachable: 1, failed: 1 },
    });
    expect(recapTotals(r)).toEqual({ hosts: 2, ok: 46, changed: 5, unreachable: 1, failed: 1 });
    expect(parseRecap('no recap here')).toEqual({});
  });

  it("reads profile_tasks' times, the slowest first", () => {
    expect(parseTaskTimes(out)).toEqual([
      { task: 'patroni : Install PostgreSQL and Patroni', seconds: 58.79 },
      { task: 'etcd : Install etcd', seconds: 33.45 },
      { task: 'patroni : Wait until every member runs, one leader and the replicas streaming', seconds: 7.84 },
    ]);
  });
});

describe("pgha's --json profile", () => {
  it('sorts the steps by time, keeps round trips and changes, and sums by component', () => {
    const p = pghaProfile({
      seconds: 12.5,
      totals: { changes: 7 },
      steps: [
        { step: 'etcd.install', seconds: 2 },
        { step: 'patroni.install', seconds: 5 },
        { step: 'etcd.start', seconds: 3 },
      ],
      roundTrips: { pg1: 40, lb1: 12 },
    });
    expect(p.steps.map((s) => s.step)).toEqual(['patroni.install', 'etcd.start', 'etcd.install']);
    expect(p).toMatchObject({ seconds: 12.5, changes: 7, roundTrips: { pg1: 40, lb1: 12 } });
    expect(secondsByComponent(p.steps)).toEqual({ patroni: 5, etcd: 5 });
    expect(() => pghaProfile({ ok: true })).toThrow(/totals/);
  });
});

describe('benchInventory', () => {
  it('is a 5-host lab inventory pgha loads, with TLS, pooling, metrics and the firewall off', () => {
    const file = join(dir, 'bench.yml');
    writeFileSync(file, benchInventory('pgha-bench-a', '10.231.34.0/24'));
    const inv = loadInventory(file, catalog);
    expect(inv.cluster).toBe('pgha-bench-a');
    expect(inv.vip).toBe('10.231.34.100');
    expect(inv.hosts.map((h) => `${h.name}=${h.address}:${h.roles.join('+')}`)).toEqual([
      'lb1=10.231.34.21:haproxy',
      'lb2=10.231.34.22:haproxy',
      'pg1=10.231.34.11:etcd+postgres',
      'pg2=10.231.34.12:etcd+postgres',
      'pg3=10.231.34.13:etcd+postgres',
    ]);
    const pg1 = inv.hosts.find((h) => h.name === 'pg1')!;
    expect(tlsEnabled(inv, pg1)).toBe(false);
    expect(inv.vars).toMatchObject({ pgbouncer_enabled: false, firewall_enabled: false, metrics_haproxy: false });
    expect(patroniSettings(inv, pg1).pgParameters.work_mem).toBe(BASE_VARS.work_mem);
    expect(haproxySettings(inv, inv.hosts[0]!).haproxyMaxconn).toBe(BASE_VARS.haproxy_maxconn);
  });

  it('carries the changed HAProxy setting and work_mem, and refuses a subnet it cannot number', () => {
    const file = join(dir, 'changed.yml');
    writeFileSync(file, benchInventory('pgha-bench-a', '10.231.34.0/24', CHANGED_VARS));
    const inv = loadInventory(file, catalog);
    expect(patroniSettings(inv, inv.hosts[2]!).pgParameters.work_mem).toBe(CHANGED_VARS.work_mem);
    expect(haproxySettings(inv, inv.hosts[0]!).haproxyMaxconn).toBe(CHANGED_VARS.haproxy_maxconn);
    expect(CHANGED_VARS.work_mem).not.toBe(BASE_VARS.work_mem);
    expect(() => benchInventory('x', '10.231.34.0/16')).toThrow(/\/24/);
  });
});
