import { describe, expect, it } from 'vitest';
import { connectOrDown } from '../../src/cli/playbook-run.js';
import type { Session } from '../../src/cli/session.js';
import type { Host } from '../../src/inventory/types.js';
import type { Transport } from '../../src/engine/types.js';
import { RemoteError, RunError, UserError } from '../../src/util/errors.js';
import { fakeTransport, makeInventory } from '../components/helpers.js';

/** A session whose connect step reaches every host but those in `fail` (each with its error). */
function session(fail: Record<string, Error>) {
  const inv = makeInventory();
  const transports = new Map<string, Transport>();
  const s = { inv, hosts: inv.hosts, transports } as unknown as Session;
  const connect = async (ss: Session, hosts: Host[]) => {
    for (const h of hosts)
      if (!fail[h.name])
        ss.transports.set(
          h.name,
          fakeTransport(h, () => ({})),
        );
    const failures = hosts.filter((h) => fail[h.name]).map((h) => ({ host: h.name, error: fail[h.name]! }));
    if (failures.length) throw new RunError('connect', failures);
  };
  return { s, inv, connect };
}

const refused = (h: string) =>
  new RemoteError(
    h,
    'cannot reach root@10.77.0.13:22 over SSH (connect ECONNREFUSED 10.77.0.13:22)',
    undefined,
    'check that the host is up',
  );

describe('plan with a host down', () => {
  it('names the down host with the reason, skips it and plans the others', async () => {
    const { s, inv, connect } = session({ pg3: refused('pg3') });
    const lines: string[] = [];
    const unreachable: string[] = [];
    const down = await connectOrDown(s, inv.hosts, true, (l) => lines.push(l), unreachable, connect);
    expect(down).toEqual([
      { host: 'pg3', reason: 'cannot reach root@10.77.0.13:22 over SSH (connect ECONNREFUSED 10.77.0.13:22)' },
    ]);
    expect(lines).toEqual([
      'down: pg3 (cannot reach root@10.77.0.13:22 over SSH (connect ECONNREFUSED 10.77.0.13:22)): its steps are skipped',
    ]);
    expect(unreachable).toEqual(['pg3']);
    expect([...s.transports.keys()].sort()).toEqual(['lb1', 'lb2', 'pg1', 'pg2']);
  });

  it('with nothing down, says nothing', async () => {
    const { s, inv, connect } = session({});
    const lines: string[] = [];
    expect(await connectOrDown(s, inv.hosts, true, (l) => lines.push(l), [], connect)).toEqual([]);
    expect(lines).toEqual([]);
  });

  it('up (not check mode) still stops at an unreachable host, and so does plan when no host answers or a host key changed', async () => {
    const one = session({ pg3: refused('pg3') });
    const unreachable: string[] = [];
    const e = await connectOrDown(one.s, one.inv.hosts, false, () => undefined, unreachable, one.connect).catch(
      (x) => x,
    );
    expect(e).toBeInstanceOf(RunError);
    expect(unreachable).toEqual(['pg3']);

    const all = session(Object.fromEntries(makeInventory().hosts.map((h) => [h.name, refused(h.name)])));
    const e2 = await connectOrDown(all.s, all.inv.hosts, true, () => undefined, [], all.connect).catch((x) => x);
    expect(e2).toBeInstanceOf(RunError);
    expect((e2 as RunError).failures).toHaveLength(5);

    const key = session({ pg2: new UserError('pg2: the SSH host key 10.77.0.12 offers is not one recorded for it') });
    const e3 = await connectOrDown(key.s, key.inv.hosts, true, () => undefined, [], key.connect).catch((x) => x);
    expect(e3).toBeInstanceOf(RunError);
    expect((e3 as RunError).exitCode).toBe(2);
  });
});
