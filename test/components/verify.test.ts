import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyCluster } from '../../src/components/verify/index.js';
import { CheckError } from '../../src/util/errors.js';
import { fakeTransport, groupCtx, makeInventory, SECRETS } from './helpers.js';
import { useFakeClock } from '../engine/fake-clock.js';

const clock = useFakeClock();

const fx = (f: string) => readFileSync(join(fileURLToPath(new URL('./fixtures', import.meta.url)), f), 'utf8');
const pgNames = (s: string) => s.replaceAll('"name":"e', '"name":"pg');
const CLUSTER = JSON.stringify({
  members: [
    { name: 'pg1', role: 'leader', state: 'running', host: '10.77.0.11', port: 5432, timeline: 1 },
    { name: 'pg2', role: 'replica', state: 'running', host: '10.77.0.12', port: 5432, timeline: 1, lag: 0 },
    { name: 'pg3', role: 'replica', state: 'running', host: '10.77.0.13', port: 5432, timeline: 1, lag: 0 },
  ],
});

/** A whole healthy cluster as its hosts answer; `sql` decides what psql through the VIP returns. */
function cluster(sql: (port: number, n: number) => { stdout?: string; stderr?: string; code?: number }) {
  const inv = makeInventory();
  let n = 0;
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
        const times = /^export PGPASSWORD=\S+\n[\s\S]*-lt (\d+)/.exec(s);
        if (times) {
          // One round trip, several connections: what psql prints for each.
          const port = Number(/port=(\d+)/.exec(s)![1]);
          const outs = Array.from({ length: Number(times[1]) }, () => sql(port, n++));
          const failed = outs.find((o) => o.code);
          return failed ?? { stdout: outs.map((o) => o.stdout ?? '').join('') };
        }
        const m = /PGPASSWORD=\S+ psql .*port=(\d+)/.exec(s);
        if (m) return sql(Number(m[1]), n++);
        return { code: 1, stderr: `unexpected: ${s.slice(0, 80)}` };
      }),
    ]),
  );
  return { inv, transports };
}

describe('verifyCluster', () => {
  it('writes on 5001, reads on a replica via 5002, sees several members on 5010', async () => {
    const { inv, transports } = cluster((port, n) =>
      port === 5001
        ? { stdout: '10.77.0.11|false\n' }
        : port === 5002
          ? { stdout: '10.77.0.12|true|1\n' }
          : { stdout: `10.77.0.1${(n % 3) + 1}\n` },
    );
    const r = await verifyCluster(groupCtx(inv, transports));
    expect(r).toMatchObject({ vip: '10.77.0.100', client: 'pg1', leader: 'pg1', vipHolder: 'lb1' });
    expect(r.write).toMatchObject({ port: 5001, server: '10.77.0.11' });
    expect(r.read).toMatchObject({ port: 5002, server: '10.77.0.12', inRecovery: true });
    expect(r.all.servers.length).toBeGreaterThan(1);
    const psql = transports.get('pg1')!.scripts.filter((s) => s.includes('psql') && s.includes('host=10.77.0.100'));
    expect(psql.some((s) => s.includes('port=5001') && s.includes('insert into pgha_verify'))).toBe(true);
    expect(psql.some((s) => s.includes('port=5002') && s.includes('pg_is_in_recovery()'))).toBe(true);
    expect(psql.filter((s) => s.includes('port=5010'))).toHaveLength(1); // all connections in one round trip
  });

  it('fails when 5002 lands on the primary', async () => {
    const { inv, transports } = cluster((port) =>
      port === 5002 ? { stdout: '10.77.0.11|false|1\n' } : { stdout: '10.77.0.11|false\n' },
    );
    const err = await verifyCluster(groupCtx(inv, transports)).catch((e) => e);
    expect(err).toBeInstanceOf(CheckError);
    expect(err.check).toContain(':5002');
    expect(err.actual).toContain('in recovery = false');
    expect(err.logs).toContain('journal of');
    // It gave replication its bounded time before failing: 15 s of polls every 500 ms.
    expect(clock.current().slept()).toBeGreaterThanOrEqual(14_000);
    expect(clock.current().sleeps.every((ms) => ms === 500)).toBe(true);
  });

  it('fails when only one member answers on 5010', async () => {
    const { inv, transports } = cluster((port) =>
      port === 5001
        ? { stdout: '10.77.0.11|false\n' }
        : port === 5002
          ? { stdout: '10.77.0.12|true|1\n' }
          : { stdout: '10.77.0.11\n' },
    );
    const err = await verifyCluster(groupCtx(inv, transports)).catch((e) => e);
    expect(err).toBeInstanceOf(CheckError);
    expect(err.actual).toBe('only 10.77.0.11');
    expect(err.message).not.toContain(SECRETS.postgres_superuser_password);
  });
});
