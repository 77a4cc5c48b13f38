import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyCluster } from '../../src/components/verify/index.js';
import { CheckError } from '../../src/util/errors.js';
import { fakeTransport, groupCtx, makeInventory, SECRETS } from './helpers.js';
import { useFakeClock } from '../engine/fake-clock.js';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

useFakeClock();

/** What psql through the VIP prints on each port: one line per connection, in turn; a non-zero code fails it. */
type Answers = Record<number, { out: string[]; code?: number; err?: string }>;

/**
 * Runs the end-to-end SQL script with sh, fakes first on PATH: psql answers from `answers` by port; date advances
 * 500 ms per call and sleep returns at once (so a wait runs out in fake time). Counts psql calls per port.
 */
function runThroughVip(script: string, answers: Answers) {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-vip-'));
  mkdirSync(join(dir, 'bin'));
  for (const [port, a] of Object.entries(answers)) {
    writeFileSync(join(dir, `${port}.out`), a.out.join('\n') + '\n');
    writeFileSync(join(dir, `${port}.code`), String(a.code ?? 0));
    writeFileSync(join(dir, `${port}.err`), a.err ?? '');
  }
  const bin = (name: string, body: string) => {
    writeFileSync(join(dir, 'bin', name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, 'bin', name), 0o755);
  };
  bin(
    'psql',
    [
      `port=$(printf '%s\\n' "$@" | sed -n 's/.*port=\\([0-9]*\\).*/\\1/p' | head -n 1)`,
      `echo "$port" >> ${dir}/calls`,
      `n=$(grep -c "^$port$" ${dir}/calls)`,
      `lines=$(wc -l < ${dir}/$port.out)`,
      `sed -n "$(( (n - 1) % lines + 1 ))p" ${dir}/$port.out`,
      `cat ${dir}/$port.err >&2`,
      `exit $(cat ${dir}/$port.code)`,
    ].join('\n'),
  );
  bin('date', `c=$(cat ${dir}/clock 2>/dev/null || echo 0); echo $((c + 500000000)) > ${dir}/clock; echo $c`);
  bin('sleep', 'exit 0');
  const r = spawnSync('sh', ['-s'], { input: script, env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` } });
  const calls = (() => {
    try {
      return readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n').map(Number);
    } catch {
      return [];
    }
  })();
  return { stdout: r.stdout.toString().trim(), stderr: r.stderr.toString().trim(), code: r.status ?? 255, calls };
}

const fx = (f: string) => readFileSync(join(fileURLToPath(new URL('./fixtures', import.meta.url)), f), 'utf8');
const pgNames = (s: string) => s.replaceAll('"name":"e', '"name":"pg');
const CLUSTER = JSON.stringify({
  members: [
    { name: 'pg1', role: 'leader', state: 'running', host: '10.77.0.11', port: 5432, timeline: 1 },
    { name: 'pg2', role: 'replica', state: 'running', host: '10.77.0.12', port: 5432, timeline: 1, lag: 0 },
    { name: 'pg3', role: 'replica', state: 'running', host: '10.77.0.13', port: 5432, timeline: 1, lag: 0 },
  ],
});

/** A whole healthy cluster as its hosts answer; `answers` decides what psql through the VIP returns. */
function cluster(answers: Answers) {
  const inv = makeInventory();
  const psqlCalls: number[] = [];
  const transports = new Map(
    inv.hosts.map((h) => [
      h.name,
      fakeTransport(h, (s) => {
        if (s.includes('member list'))
          return {
            stdout: `${pgNames(fx('memberlist.json'))}\n---pgha-split---\n${fx('status.json')}\n---pgha-split---\n${fx('health.json')}`,
          };
        if (s.includes('/cluster')) return { stdout: `HTTP/1.0 200 OK\r\n\r\n${CLUSTER}` };
        if (s.includes('pg_stat_replication')) return { stdout: '2\n' };
        if (s.includes('pg_stat_wal_receiver')) return { stdout: 'streaming\n' };
        if (s.includes(';csv')) return { stdout: fx('haproxy-stats.raw') };
        if (s.startsWith('ip -o -4 addr show'))
          return {
            stdout: `2: host0    inet ${h.address}/24 scope global host0${h.name === 'lb1' ? '\n2: host0    inet 10.77.0.100/24 scope global secondary host0' : ''}`,
          };
        if (s.startsWith('systemctl is-active haproxy')) return { stdout: 'active\n' };
        if (s.startsWith('journalctl')) return { stdout: `journal of ${h.name}` };
        if (s.startsWith('export PGPASSWORD=')) {
          const r = runThroughVip(s, answers);
          psqlCalls.push(...r.calls);
          return r;
        }
        return { code: 1, stderr: `unexpected: ${s.slice(0, 80)}` };
      }),
    ]),
  );
  return { inv, transports, psqlCalls };
}

describe('verifyCluster', () => {
  it('writes on 5001, reads on a replica via 5002, sees several members on 5010', async () => {
    const { inv, transports, psqlCalls } = cluster({
      5001: { out: ['10.77.0.11|false'] },
      5002: { out: ['10.77.0.12|true|1'] },
      5010: { out: ['10.77.0.11', '10.77.0.12', '10.77.0.13'] },
    });
    const r = await verifyCluster(groupCtx(inv, transports));
    expect(r).toMatchObject({ vip: '10.77.0.100', client: 'pg1', leader: 'pg1', vipHolder: 'lb1' });
    expect(r.write).toMatchObject({ port: 5001, server: '10.77.0.11' });
    expect(r.read).toMatchObject({ port: 5002, server: '10.77.0.12', inRecovery: true });
    expect(r.all.servers.length).toBeGreaterThan(1);
    const psql = transports.get('pg1')!.scripts.filter((s) => s.includes('psql') && s.includes('host=10.77.0.100'));
    expect(psql).toHaveLength(1); // write, read back and the balanced connections: one round trip
    expect(psql[0]).toContain('insert into pgha_verify');
    // One write, one read (the row was there at once), 6 connections through 5010 (2 per member, at least 4).
    expect(psqlCalls).toEqual([5001, 5002, 5010, 5010, 5010, 5010, 5010, 5010]);
  });

  it('fails when 5002 lands on the primary', async () => {
    const { inv, transports, psqlCalls } = cluster({
      5001: { out: ['10.77.0.11|false'] },
      5002: { out: ['10.77.0.11|false|1'] },
      5010: { out: ['10.77.0.11'] },
    });
    const err = await verifyCluster(groupCtx(inv, transports)).catch((e) => e);
    expect(err).toBeInstanceOf(CheckError);
    expect(err.check).toContain(':5002');
    expect(err.actual).toContain('in recovery = false');
    expect(err.logs).toContain('journal of');
    // It gave replication its bounded time before failing, on the host: 15 s of polls every 500 ms (fake time,
    // each poll taking one 500 ms tick of the fake date), then no more.
    const reads = psqlCalls.filter((p) => p === 5002).length;
    expect(reads).toBeGreaterThanOrEqual(14);
    expect(reads).toBeLessThanOrEqual(30);
  });

  it('fails when only one member answers on 5010', async () => {
    const { inv, transports } = cluster({
      5001: { out: ['10.77.0.11|false'] },
      5002: { out: ['10.77.0.12|true|1'] },
      5010: { out: ['10.77.0.11'] },
    });
    const err = await verifyCluster(groupCtx(inv, transports)).catch((e) => e);
    expect(err).toBeInstanceOf(CheckError);
    expect(err.actual).toBe('only 10.77.0.11');
    expect(err.message).not.toContain(SECRETS.postgres_superuser_password);
  });
});
