// The pgbouncer variables at load: ranges, the rules across pool sizes, and ports that must all differ; each refused
// at the line where the value is set.
import { describe, expect, it } from 'vitest';
import { BASE, errorLines, load, loadError } from '../inventory/helpers.js';
import { pgbouncerSettings } from '../../src/components/pgbouncer/settings.js';

const withVars = (vars: string) => BASE.replace('hosts:', `vars:\n${vars}\nhosts:`);

describe('pgbouncer settings', () => {
  it('off by default, sane defaults when on', () => {
    const off = load(BASE);
    expect(pgbouncerSettings(off, off.hosts[2]!).enabled).toBe(false);
    const inv = load(withVars('  pgbouncer_enabled: true'));
    expect(pgbouncerSettings(inv, inv.hosts[2]!)).toMatchObject({
      enabled: true,
      port: 6432,
      maxClientConn: 1000,
      defaultPoolSize: 20,
      minPoolSize: 0,
      reservePoolSize: 5,
      maxDbConnections: 0,
      pooledPrimaryPort: 6001,
      pooledReplicaPort: 6002,
      pooledAllPort: 6010,
    });
  });

  it('refuses pool sizes out of range at their line', () => {
    const e = loadError(
      withVars('  pgbouncer_enabled: true\n  pgbouncer_default_pool_size: 0\n  pgbouncer_max_client_conn: 200000'),
    );
    const lines = errorLines(e);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ line: 8, field: 'vars.pgbouncer_default_pool_size' }),
        expect.objectContaining({ line: 9, field: 'vars.pgbouncer_max_client_conn' }),
      ]),
    );
  });

  it('refuses min_pool_size above default_pool_size, and a pool beyond max_db_connections', () => {
    let e = loadError(withVars('  pgbouncer_enabled: true\n  pgbouncer_min_pool_size: 30'));
    expect(errorLines(e)).toEqual([
      {
        line: 8,
        field: 'vars.pgbouncer_min_pool_size',
        message: expect.stringMatching(
          /pgbouncer_min_pool_size \(30\) must not exceed pgbouncer_default_pool_size \(20\)/,
        ),
      },
    ]);
    e = loadError(withVars('  pgbouncer_enabled: true\n  pgbouncer_max_db_connections: 10'));
    expect(errorLines(e)[0]).toMatchObject({ line: 8, field: 'vars.pgbouncer_max_db_connections' });
  });

  it("refuses a pool (default + reserve) that could take all of PostgreSQL's max_connections", () => {
    const e = loadError(
      withVars(
        '  pgbouncer_enabled: true\n  postgres_parameters: {max_connections: 50}\n  pgbouncer_default_pool_size: 45',
      ),
    );
    expect(errorLines(e)).toEqual([
      {
        line: 9,
        field: 'vars.pgbouncer_default_pool_size',
        message: expect.stringMatching(/\(45 \+ 5\) must stay below PostgreSQL's max_connections \(50\)/),
      },
    ]);
  });

  it('refuses a pooled port equal to another HAProxy port, at the line of the pooled port', () => {
    let e = loadError(withVars('  pgbouncer_enabled: true\n  haproxy_pooled_primary_port: 5001'));
    expect(errorLines(e)).toEqual([
      {
        line: 8,
        field: 'vars.haproxy_pooled_primary_port',
        message: expect.stringMatching(
          /^haproxy_pooled_primary_port \(5001\) equals haproxy_primary_port: every port must be different/,
        ),
      },
    ]);
    e = loadError(withVars('  pgbouncer_enabled: true\n  haproxy_pooled_all_port: 6002'));
    expect(errorLines(e)[0]!.message).toMatch(/haproxy_pooled_replica_port \(6002\) equals haproxy_pooled_all_port/);
    e = loadError(withVars('  pgbouncer_enabled: true\n  haproxy_pooled_replica_port: 8404'));
    expect(errorLines(e)[0]!.message).toMatch(/equals haproxy_stats_port/);
  });

  it("refuses PgBouncer's port equal to PostgreSQL's or Patroni's", () => {
    const e = loadError(withVars('  pgbouncer_enabled: true\n  pgbouncer_port: 5432'));
    expect(errorLines(e)).toEqual([
      {
        line: 8,
        field: 'vars.pgbouncer_port',
        message: expect.stringMatching(/^pgbouncer_port \(5432\) equals postgres_port/),
      },
    ]);
  });

  it('with pooling off, the pooled ports are not read and refuse nothing', () => {
    expect(() => load(withVars('  haproxy_pooled_primary_port: 5001\n  pgbouncer_min_pool_size: 30'))).not.toThrow();
  });
});
