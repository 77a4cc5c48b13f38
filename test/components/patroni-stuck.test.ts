import { describe, expect, it } from 'vitest';
import { reinitStuckReplica, repairIfStuck, replicaStateScript } from '../../src/components/patroni/stuck.js';
import { ctxFor, fakeTransport, makeInventory } from './helpers.js';

function member(states: string[]) {
  const inv = makeInventory();
  const ctx = { ...ctxFor(inv, 'pg3'), check: false };
  let i = 0;
  const t = fakeTransport(ctx.host, (s) => {
    if (s.includes('pg_stat_wal_receiver')) return { stdout: `${states[Math.min(i++, states.length - 1)]}\n` };
    if (s.startsWith('patronictl')) return { stdout: 'Success: reinitialize for member pg3\n' };
    if (s.includes('/patroni')) return { stdout: 'HTTP/1.0 200 OK\r\n\r\n{"state":"running","role":"replica"}' };
    return { code: 1 };
  });
  return { ctx, t };
}

describe('a replica stuck with WAL of its own', () => {
  it('is cloned again when the check finds it stuck, then checked to run', async () => {
    const { ctx, t } = member(['stuck']);
    await repairIfStuck(ctx, t, 1000);
    expect(t.scripts.filter((s) => s.startsWith('patronictl'))).toEqual(["patronictl -c /etc/patroni/config.yml reinit demo pg3 --force"]);
  });

  it('is left alone when it streams, or is the primary (one round trip)', async () => {
    for (const st of ['streaming', 'primary']) {
      const { ctx, t } = member([st]);
      await repairIfStuck(ctx, t, 1000);
      expect(t.scripts).toHaveLength(1);
    }
  });

  it('waits while a replica is still catching up, and repairs it once it shows the loop', async () => {
    const { ctx, t } = member(['waiting', 'stuck']);
    await repairIfStuck(ctx, t, 20_000);
    expect(t.scripts.some((s) => s.startsWith('patronictl'))).toBe(true);
  }, 30_000);

  it('the guarded command runs only on a stuck replica, and the detection needs the loop three times', () => {
    const ctx = ctxFor(makeInventory(), 'pg3');
    const r = reinitStuckReplica(ctx);
    expect(r.kind).toBe('command');
    if (r.kind !== 'command') return;
    expect(r.unless).toContain('grep -qx stuck');
    const script = replicaStateScript(ctx);
    expect(script).toContain('standby.signal');
    expect(script).toContain('-ge 3');
    expect(script).toMatch(/invalid resource manager ID/);
  });
});
