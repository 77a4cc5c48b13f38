// The pooled ports' check of pgha verify: each pooled port through the VIP must reach a server of its role.
import { describe, expect, it } from 'vitest';
import { verifyPooledPorts } from '../../src/components/pgbouncer/checks.js';
import { CheckError } from '../../src/util/errors.js';
import { fakeTransport, groupCtx, makeInventory, SECRETS } from './helpers.js';
import { useFakeClock } from '../engine/fake-clock.js';

useFakeClock(); // the bounded waits pass without real waiting

const PW = 'AuThPw0rdEeeeeeeeeeeeeeeeeeeeee5';

/** pg1's transport, psql through the VIP answering per port. */
function ctxWith(answer: (port: number) => { stdout?: string; stderr?: string; code?: number }) {
  const inv = makeInventory({ pgbouncer_enabled: true });
  const pg1 = inv.hosts.find((h) => h.name === 'pg1')!;
  const t = fakeTransport(pg1, (s) => answer(Number(/host=10\.77\.0\.100 port=(\d+)/.exec(s)?.[1] ?? 0)));
  const ctx = { ...groupCtx(inv, new Map([['pg1', t]])), secrets: { ...SECRETS, pgbouncer_auth_password: PW } };
  return { ctx, pg1, t };
}

describe('pooled ports through the VIP', () => {
  it('the primary on 6001, a replica on 6002, any member on 6010, as the auth role, password only in the script', async () => {
    const { ctx, pg1, t } = ctxWith((port) => ({ stdout: port === 6001 ? 'f\n' : 't\n' }));
    const r = await verifyPooledPorts(ctx, pg1, '10.77.0.100');
    expect(r).toEqual([
      { port: 6001, role: 'primary', inRecovery: false },
      { port: 6002, role: 'replica', inRecovery: true },
      { port: 6010, role: 'any', inRecovery: true },
    ]);
    for (const s of t.scripts) {
      expect(s).toContain(`export PGPASSWORD=${PW}\n`);
      expect(s).toContain('user=pgbouncer_auth');
      expect(s).toContain("echo 'SELECT pg_is_in_recovery()' | psql");
    }
  });

  it('a replica answering on the pooled primary port fails, naming the port and the role wanted', async () => {
    const { ctx, pg1 } = ctxWith(() => ({ stdout: 't\n' }));
    const e = await verifyPooledPorts(ctx, pg1, '10.77.0.100').catch((x) => x);
    expect(e).toBeInstanceOf(CheckError);
    expect(e.message).toContain('10.77.0.100:6001');
    expect(e.expected).toContain('pg_is_in_recovery() = f');
  });

  it('PgBouncer refusing the login fails with its message', async () => {
    const { ctx, pg1 } = ctxWith((port) =>
      port === 6002
        ? { code: 2, stderr: 'psql: error: FATAL:  server login has been failing, try again later' }
        : { stdout: 'f\n' },
    );
    const e = await verifyPooledPorts(ctx, pg1, '10.77.0.100').catch((x) => x);
    expect(e).toBeInstanceOf(CheckError);
    expect(e.actual).toContain('server login has been failing');
  });
});
