// The stuck-replica detection and repair, run with sh against fake commands (psql, journalctl, runuser,
// patronictl) on PATH and a fake Patroni REST API on 127.0.0.1.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { reinitStuckReplica, repairIfStuck, replicaStateScript } from '../../src/components/patroni/stuck.js';
import type { ExecOptions, ExecResult } from '../../src/engine/types.js';
import { shq } from '../../src/engine/quote.js';
import { ctxFor, makeInventory } from './helpers.js';
import { LocalTransport } from '../engine/local-transport.js';
import { useFakeClock } from '../engine/fake-clock.js';
import { pointAtFake, startFakePatroni, type FakePatroni } from './fake-patroni.js';

const clock = useFakeClock();

// PostgreSQL 15 as Patroni's journal shows it: the wait-for-WAL loop of a replica whose WAL went its own way.
const LOOP = [
  'pg3 patroni[812]: 2026-11-30 01:00:01.101 UTC [901] LOG:  invalid resource manager ID 32 at 0/3000108',
  'pg3 patroni[812]: 2026-11-30 01:00:01.220 UTC [902] FATAL:  could not receive data from WAL stream: ERROR:  requested starting point 0/4000000 is ahead of the WAL flush position of this server 0/3000110',
  'pg3 patroni[812]: 2026-11-30 01:00:06.305 UTC [901] LOG:  invalid record length at 0/3000108: wanted 24, got 0',
];
// A replica that just started: local WAL ends once, then streaming starts.
const STARTING = [
  'pg3 patroni[812]: 2026-11-30 01:00:01.101 UTC [901] LOG:  entering standby mode',
  'pg3 patroni[812]: 2026-11-30 01:00:01.150 UTC [901] LOG:  invalid record length at 0/3000108: wanted 24, got 0',
  'pg3 patroni[812]: 2026-11-30 01:00:01.300 UTC [905] LOG:  started streaming WAL from primary at 0/3000000 on timeline 1',
];

const FAKES: Record<string, string> = {
  // runuser -u USER -- CMD...: record the user, run CMD.
  runuser: 'echo "$*" >> "$FAKE/runuser.calls"; while [ "$1" != -- ]; do shift; done; shift; exec "$@"',
  psql: 'echo "$*" >> "$FAKE/psql.calls"; cat "$FAKE/wal_receiver" 2>/dev/null; exit 0',
  // Each call prints journal.N (N = call number) when present, else journal.
  journalctl:
    'echo "$*" >> "$FAKE/journalctl.calls"; n=$(($(cat "$FAKE/jn" 2>/dev/null || echo 0) + 1)); echo $n > "$FAKE/jn"; ' +
    'if [ -f "$FAKE/journal.$n" ]; then cat "$FAKE/journal.$n"; else cat "$FAKE/journal" 2>/dev/null; fi',
  patronictl: 'echo "$*" >> "$FAKE/patronictl.calls"; echo "Success: reinitialize for member pg3"',
};

/** A transport that runs scripts with sh here, the fake commands first on PATH. */
class FakeHostTransport extends LocalTransport {
  constructor(
    host: LocalTransport['host'],
    readonly fake: string,
  ) {
    super(host);
  }
  override exec(script: string, opts?: ExecOptions): Promise<ExecResult> {
    return super.exec(
      `FAKE=${shq(this.fake)}; export FAKE; PATH=${shq(join(this.fake, 'bin'))}:"$PATH"\n${script}`,
      opts,
    );
  }
}

let patroni: FakePatroni | undefined;
afterEach(async () => {
  await patroni?.close();
  patroni = undefined;
});

/** A replica pg3 with its data dir, its journal and its WAL receiver status as given. */
async function replica(o: { standby?: boolean; walReceiver?: string; journal?: string[] | string[][] } = {}) {
  const fake = mkdtempSync(join(tmpdir(), 'pgha-stuck-'));
  mkdirSync(join(fake, 'bin'));
  for (const [name, body] of Object.entries(FAKES)) {
    writeFileSync(join(fake, 'bin', name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(fake, 'bin', name), 0o755);
  }
  const dataDir = join(fake, 'data');
  mkdirSync(dataDir);
  if (o.standby ?? true) writeFileSync(join(dataDir, 'standby.signal'), '');
  if (o.walReceiver !== undefined) writeFileSync(join(fake, 'wal_receiver'), `${o.walReceiver}\n`);
  const j = o.journal ?? [];
  if (Array.isArray(j[0]))
    (j as string[][]).forEach((lines, i) => writeFileSync(join(fake, `journal.${i + 1}`), lines.join('\n') + '\n'));
  else writeFileSync(join(fake, 'journal'), (j as string[]).join('\n') + '\n');
  patroni = await startFakePatroni([{ name: 'pg3', role: 'replica', pendingRestart: false }]);
  const inv = makeInventory({
    postgres_data_dir: dataDir,
    postgres_port: 5433,
  });
  for (const h of inv.hosts) pointAtFake(h, patroni.members[0]!.port);
  const ctx = { ...ctxFor(inv, 'pg3'), check: false };
  const t = new FakeHostTransport(ctx.host, fake);
  const calls = (cmd: string) =>
    existsSync(join(fake, `${cmd}.calls`))
      ? readFileSync(join(fake, `${cmd}.calls`), 'utf8')
          .trim()
          .split('\n')
      : [];
  return { ctx, t, calls };
}

const stateOf = async (r: Awaited<ReturnType<typeof replica>>) =>
  (await r.t.exec(replicaStateScript(r.ctx))).stdout.trim();

describe('which state the detection script reports', () => {
  it('a member without standby.signal is the primary (nothing else asked)', async () => {
    const r = await replica({ standby: false, journal: [...LOOP, ...LOOP] });
    expect(await stateOf(r)).toBe('primary');
    expect(r.calls('psql')).toEqual([]);
  });

  it('a replica whose WAL receiver streams is streaming, whatever its log says', async () => {
    const r = await replica({ walReceiver: 'streaming', journal: [...LOOP, ...LOOP] });
    expect(await stateOf(r)).toBe('streaming');
    expect(r.calls('runuser')[0]).toMatch(/^-u postgres -- psql /);
    expect(r.calls('psql')[0]).toContain('-p 5433');
    expect(r.calls('psql')[0]).toContain('pg_stat_wal_receiver');
  });

  it('a replica not streaming whose last two minutes show the loop three times is stuck', async () => {
    const r = await replica({ walReceiver: '', journal: [STARTING[0]!, ...LOOP] });
    expect(await stateOf(r)).toBe('stuck');
    expect(r.calls('journalctl')).toEqual(['-u patroni --since -120s --no-pager']);
  });

  it('one or two loop lines (the normal end of local WAL) are not enough: still waiting', async () => {
    expect(await stateOf(await replica({ walReceiver: 'startup', journal: STARTING }))).toBe('waiting');
    expect(await stateOf(await replica({ walReceiver: '', journal: LOOP.slice(0, 2) }))).toBe('waiting');
    expect(await stateOf(await replica({ walReceiver: '', journal: [] }))).toBe('waiting');
  });

  it('the guard of the repair command lets it run only on a stuck replica', async () => {
    const stuck = await replica({ walReceiver: '', journal: LOOP });
    const guard = reinitStuckReplica(stuck.ctx);
    expect(guard.kind).toBe('command');
    if (guard.kind !== 'command') return;
    expect(guard.argv).toEqual(['patronictl', '-c', '/etc/patroni/config.yml', 'reinit', 'demo', 'pg3', '--force']);
    expect((await stuck.t.exec(guard.unless!)).code).not.toBe(0); // guard fails: the command runs
    for (const o of [
      { walReceiver: 'streaming', journal: LOOP },
      { standby: false, journal: LOOP },
      { walReceiver: '', journal: STARTING },
    ]) {
      const r = await replica(o);
      const g = reinitStuckReplica(r.ctx);
      expect(g.kind === 'command' && (await r.t.exec(g.unless!)).code).toBe(0);
    }
  });
});

describe('a replica stuck with WAL of its own', () => {
  it('is cloned again when the check finds it stuck, then checked to run', async () => {
    const r = await replica({ walReceiver: '', journal: LOOP });
    await repairIfStuck(r.ctx, r.t, 1000);
    expect(r.calls('patronictl')).toEqual(['-c /etc/patroni/config.yml reinit demo pg3 --force']);
    expect(patroni!.calls.map((c) => `${c.method} ${c.path}`)).toContain('GET /patroni');
  });

  it('is left alone when it streams, or is the primary (one round trip)', async () => {
    for (const o of [
      { walReceiver: 'streaming', journal: LOOP },
      { standby: false, journal: LOOP },
    ]) {
      const r = await replica(o);
      await repairIfStuck(r.ctx, r.t, 1000);
      expect(r.t.roundTrips).toBe(1);
      expect(r.calls('patronictl')).toEqual([]);
    }
  });

  it('waits while a replica is still catching up, and repairs it once it shows the loop', async () => {
    const r = await replica({ walReceiver: '', journal: [STARTING.slice(0, 2), [...STARTING.slice(0, 2), ...LOOP]] });
    await repairIfStuck(r.ctx, r.t, 20_000);
    expect(clock.current().sleeps).toEqual([5000]);
    expect(r.calls('journalctl')).toHaveLength(2);
    expect(r.calls('patronictl')).toHaveLength(1);
  });

  it('gives up after its grace time when the replica keeps waiting, without cloning it', async () => {
    const r = await replica({ walReceiver: '', journal: STARTING.slice(0, 2) });
    await repairIfStuck(r.ctx, r.t, 12_000);
    expect(clock.current().slept()).toBeGreaterThanOrEqual(12_000);
    expect(clock.current().slept()).toBeLessThanOrEqual(12_000 + 5000);
    expect(r.calls('patronictl')).toEqual([]);
  });
});
