import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandResource, FileResource, ServiceResource } from '../../src/engine/types.js';
import { pgbouncerResources, pgbouncerSteps } from '../../src/components/pgbouncer/steps.js';
import { changeAction, iniSettings, PGBOUNCER_INI, PGBOUNCER_USERLIST } from '../../src/components/pgbouncer/config.js';
import { authCheckScript, authSetupScript, functionSql, scramVerifier } from '../../src/components/pgbouncer/auth.js';
import { iniFact, patroniRoleFact } from '../../src/components/pgbouncer/facts.js';
import { parseMemberCheck, memberCheckScript } from '../../src/components/pgbouncer/checks.js';
import { pooledConnectLines, withPooledBackends } from '../../src/components/pgbouncer/haproxy.js';
import { HAPROXY_CONFIG, haproxySteps } from '../../src/components/haproxy/steps.js';
import { ctxFor, makeInventory, plan, SECRETS, stepById } from './helpers.js';
import { fakeBin } from '../engine/fake-bin.js';

const PW = 'AuThPw0rdEeeeeeeeeeeeeeeeeeeeee5';
const secrets = { ...SECRETS, pgbouncer_auth_password: PW };
const ON = { pgbouncer_enabled: true };

function resources(vars: Record<string, unknown>, host: string, role = 'replica', ini?: string) {
  return pgbouncerResources(ctxFor(makeInventory(vars), host, { secrets }), { role, ini });
}
const file = (rs: unknown[], path: string) =>
  rs.find((r) => (r as FileResource).kind === 'file' && (r as FileResource).path === path) as FileResource;

describe('pgbouncer files', () => {
  it('off by default: no package, no file, no service, no command', async () => {
    expect(resources({}, 'pg1', 'master')).toEqual([]);
    expect(await plan(stepById(pgbouncerSteps, 'pgbouncer.install'), ctxFor(makeInventory(), 'pg1'), {})).toEqual([]);
    const on = await plan(stepById(pgbouncerSteps, 'pgbouncer.install'), ctxFor(makeInventory(ON), 'pg1'), {});
    expect(on).toEqual([{ kind: 'packages', names: ['pgbouncer'] }]);
  });

  it('pgbouncer.ini: transaction pooling on the host address in front of the local PostgreSQL, auth_query', () => {
    const ini = file(resources(ON, 'pg2'), PGBOUNCER_INI);
    expect(ini).toMatchObject({ owner: 'postgres', group: 'postgres', mode: '0640' });
    expect(ini.content).toMatch(/\[databases\]\n\* = host=127\.0\.0\.1 port=5432\n/);
    expect(iniSettings(ini.content)).toMatchObject({
      listen_addr: '10.77.0.12',
      listen_port: '6432',
      unix_socket_dir: '/var/run/postgresql',
      pool_mode: 'transaction',
      auth_type: 'scram-sha-256',
      auth_file: PGBOUNCER_USERLIST,
      auth_user: 'pgbouncer_auth',
      auth_query: 'SELECT username, password FROM pgbouncer.get_auth($1)',
      max_client_conn: '1000',
      default_pool_size: '20',
      min_pool_size: '0',
      reserve_pool_size: '5',
      reserve_pool_timeout: '3',
      max_db_connections: '0',
    });
  });

  it('pool sizes and the port come from the inventory', () => {
    const vars = {
      ...ON,
      pgbouncer_port: 6543,
      pgbouncer_max_client_conn: 300,
      pgbouncer_default_pool_size: 7,
      pgbouncer_min_pool_size: 2,
      pgbouncer_reserve_pool_size: 1,
      pgbouncer_max_db_connections: 50,
      pgbouncer_auth_user: 'bouncer',
    };
    expect(iniSettings(file(resources(vars, 'pg1'), PGBOUNCER_INI).content)).toMatchObject({
      listen_port: '6543',
      max_client_conn: '300',
      default_pool_size: '7',
      min_pool_size: '2',
      reserve_pool_size: '1',
      max_db_connections: '50',
      auth_user: 'bouncer',
      stats_users: 'bouncer',
    });
  });

  it('userlist.txt holds the auth role only, 0600 postgres, never shown in a diff', () => {
    const u = file(resources(ON, 'pg1'), PGBOUNCER_USERLIST);
    expect(u).toMatchObject({ owner: 'postgres', group: 'postgres', mode: '0600', secret: true });
    expect(u.content).toBe(`"pgbouncer_auth" "${PW}"\n`);
    expect(u.notify).toEqual([{ service: 'pgbouncer', action: 'reload' }]);
  });

  it('the service runs; only the leader gets the auth command', () => {
    const replica = resources(ON, 'pg2', 'replica');
    expect(replica.find((r) => r.kind === 'service')).toEqual({
      kind: 'service',
      name: 'pgbouncer',
      enabled: true,
      state: 'started',
    } satisfies ServiceResource);
    expect(replica.some((r) => r.kind === 'command')).toBe(false);
    expect(resources(ON, 'pg2', '').some((r) => r.kind === 'command')).toBe(false); // Patroni not answering
    for (const role of ['master', 'primary']) {
      const cmd = resources(ON, 'pg1', role).find((r) => r.kind === 'command') as CommandResource;
      expect(cmd.secrets).toEqual([PW]);
      expect(cmd.explain).toBe(true);
      expect(cmd.script).not.toContain(PW); // PostgreSQL gets the SCRAM verifier only
      expect(cmd.script).toMatch(/PASSWORD 'SCRAM-SHA-256\$4096:/);
    }
  });
});

describe('pgbouncer reload or restart, from what changed', () => {
  const wanted = (vars: Record<string, unknown>) => file(resources({ ...ON, ...vars }, 'pg1'), PGBOUNCER_INI).content;

  it('a pool size or limit change is a reload', () => {
    const d = changeAction(wanted({}), wanted({ pgbouncer_default_pool_size: 30, pgbouncer_max_client_conn: 50 }));
    expect(d.action).toBe('reload');
    const ini = file(
      resources({ ...ON, pgbouncer_default_pool_size: 30 }, 'pg1', 'replica', wanted({})),
      PGBOUNCER_INI,
    );
    expect(ini.notify).toEqual([{ service: 'pgbouncer', action: 'reload' }]);
  });

  it("a listen port change, the package's own config (listen_addr localhost) or no config at all is a restart", () => {
    expect(changeAction(wanted({}), wanted({ pgbouncer_port: 6500 }))).toEqual({
      action: 'restart',
      why: 'listen_port changed (read at start only)',
    });
    // The [pgbouncer] settings of Debian's 1.18 package config, as the package installs it.
    const debian = [
      '[databases]',
      '[users]',
      '[pgbouncer]',
      'logfile = /var/log/postgresql/pgbouncer.log',
      'pidfile = /var/run/postgresql/pgbouncer.pid',
      ';; comment',
      'listen_addr = localhost',
      'listen_port = 6432',
      'unix_socket_dir = /var/run/postgresql',
      'auth_type = md5',
      'auth_file = /etc/pgbouncer/userlist.txt',
    ].join('\n');
    expect(changeAction(debian, wanted({})).why).toBe('listen_addr changed (read at start only)');
    expect(changeAction(undefined, wanted({})).action).toBe('restart');
    const ini = file(resources(ON, 'pg1', 'replica', debian), PGBOUNCER_INI);
    expect(ini.notify).toEqual([{ service: 'pgbouncer', action: 'restart' }]);
  });

  it('reads only the [pgbouncer] section; comments and a changed comment are no change', () => {
    const text = '; x\n[databases]\nlisten_port = 1\n[pgbouncer]\n# c\nListen_Port = 6432\nlisten_port=6433\n';
    expect(iniSettings(text)).toEqual({ listen_port: '6433' });
    expect(changeAction(`;a\n${wanted({})}`, `;b\n${wanted({})}`).action).toBe('reload');
  });
});

describe('pgbouncer facts', () => {
  it('the Patroni role of a running member, empty otherwise', () => {
    const f = patroniRoleFact({ address: '10.0.0.1', port: 8008 });
    expect(f.script).toContain('http://10.0.0.1:8008');
    const http = (body: string, status = 200) => `HTTP/1.0 ${status} OK\r\n\r\n${body}`;
    expect(f.parse(http('{"state":"running","role":"master"}'))).toBe('master');
    expect(f.parse(http('{"state":"starting","role":"replica"}'))).toBe('');
    expect(f.parse(http('not json'))).toBe('');
    expect(f.parse('')).toBe('');
  });

  it('the current ini travels base64 on one line', async () => {
    const text = '[pgbouncer]\nlisten_port = 6432\n';
    expect(iniFact.parse(`ini ${Buffer.from(text).toString('base64')}\n`)).toBe(text);
    expect(iniFact.parse('ini -\n')).toBeUndefined();
  });
});

/** runuser and a fake psql (test/components/fixtures/fake-psql.py) on PATH. */
const psqlFake = () => {
  const py = join(fileURLToPath(new URL('./fixtures', import.meta.url)), 'fake-psql.py');
  const f = fakeBin({
    runuser: 'while [ "$1" != "--" ]; do shift; done; shift; exec "$@"',
    psql: `exec python3 ${py} "$@"`,
  });
  const state = (name: string, text: string) => {
    writeFileSync(join(f.fake, 'state', name), text);
  };
  const log = () =>
    readFileSync(join(f.fake, 'log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { argv: string[]; db: string; user: string; sql: string });
  return { ...f, state, log };
};
const input = { authUser: 'pgbouncer_auth', password: PW, pgPort: 5432 };

describe('pgbouncer auth_query role and function', () => {
  it('SCRAM verifier as PostgreSQL stores it (checked against Python hashlib)', () => {
    const salt = Buffer.from([...Array(16).keys()]);
    expect(scramVerifier('pencil', salt)).toBe(
      'SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$zHCdol2044/ZyWzPLi7oxApCkamKw9Z+E4U/QApd/5Y=:dd5peBOitVnLNFu7VmwP+HiDaaw4OUCv396eVCWhYiE=',
    );
    expect(scramVerifier('pencil')).not.toBe(scramVerifier('pencil')); // a fresh salt each time
  });

  it('the function returns no superuser, runs with a fixed search_path, and only the auth role may call it', () => {
    const { sql, marker } = functionSql('pgbouncer_auth');
    expect(sql).toContain('SECURITY DEFINER');
    expect(sql).toContain('SET search_path = pg_catalog, pg_temp');
    expect(sql).toContain('AND NOT s.usesuper');
    expect(sql).toContain('REVOKE ALL ON FUNCTION pgbouncer.get_auth(text) FROM PUBLIC;');
    expect(sql).toContain('GRANT EXECUTE ON FUNCTION pgbouncer.get_auth(text) TO "pgbouncer_auth";');
    expect(sql).toContain(`IS '${marker}';`);
    expect(functionSql('other').marker).not.toBe(marker);
  });

  it(
    'against a fake psql: the check names what is missing, the setup creates it, then the check passes',
    { timeout: 90_000 },
    async () => {
      const f = psqlFake();
      await f.t.exec('mkdir -p "$FAKE/state"');
      f.state('dbs', 'postgres\ntemplate1\napp db\n');
      const before = await f.t.exec(authCheckScript(input));
      expect(before.code).toBe(1);
      expect(before.stdout.trim().split('\n')).toEqual([
        'role pgbouncer_auth is missing or has another password',
        'database postgres has no current pgbouncer.get_auth',
        'database template1 has no current pgbouncer.get_auth',
        'database app db has no current pgbouncer.get_auth',
      ]);

      const setup = await f.t.exec(authSetupScript(input));
      expect(setup.stderr).toBe('');
      expect(setup.code).toBe(0);
      const writes = f.log().filter((c) => /ALTER ROLE|CREATE OR REPLACE FUNCTION/.test(c.sql));
      expect(writes.map((c) => [c.db, c.sql.includes('ALTER ROLE') ? 'role' : 'function'])).toEqual([
        ['postgres', 'role'],
        ['postgres', 'function'],
        ['template1', 'function'],
        ['app db', 'function'],
      ]);
      // Every SQL statement went on stdin: no argument names SQL, the password or its verifier.
      for (const c of f.log()) {
        expect(c.argv).toContain('-f');
        expect(c.argv.join(' ')).not.toMatch(/SELECT|ALTER|CREATE|SCRAM|PASSWORD/i);
        expect(c.argv.join(' ')).not.toContain(PW);
      }

      const after = await f.t.exec(authCheckScript(input));
      expect(after.stdout).toBe('');
      expect(after.code).toBe(0);
      // Another password than the one set: the check sees it (the fake verifies SCRAM as PostgreSQL does).
      expect((await f.t.exec(authCheckScript({ ...input, password: 'another-one' }))).code).toBe(1);
    },
  );

  it('a database where the function cannot be made fails the setup, naming it', async () => {
    const f = psqlFake();
    await f.t.exec('mkdir -p "$FAKE/state"');
    f.state('dbs', 'postgres\napp\ntemplate1\n');
    f.state('fail', 'app');
    const r = await f.t.exec(authSetupScript(input));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('database app: creating pgbouncer.get_auth failed');
    expect(f.log().some((c) => c.db === 'template1' && c.sql.includes('FUNCTION'))).toBe(false);
  });
});

describe('pgbouncer member check', () => {
  it('parses the version and the recovery state', () => {
    expect(parseMemberCheck('PgBouncer 1.18.0\nf\n')).toEqual({ version: 'PgBouncer 1.18.0', inRecovery: false });
    expect(parseMemberCheck('PgBouncer 1.18.0\nt')).toEqual({ version: 'PgBouncer 1.18.0', inRecovery: true });
    expect(parseMemberCheck('')).toEqual({ version: '', inRecovery: undefined });
  });

  it(
    'against a fake psql: no query through PgBouncer before the auth role is there, then version and state',
    { timeout: 90_000 },
    async () => {
      const f = psqlFake();
      await f.t.exec('mkdir -p "$FAKE/state"');
      f.state('dbs', 'postgres\n');
      const script = memberCheckScript({
        user: 'pgbouncer_auth',
        password: PW,
        port: 6432,
        address: '10.77.0.11',
        pgPort: 5432,
      });
      const early = await f.t.exec(script);
      expect(early.code).toBe(3);
      expect(early.stderr).toContain("role pgbouncer_auth is not in this member's database yet");
      expect(f.log().map((c) => c.db)).toEqual(['pgbouncer', 'postgres']); // the admin console, the local role lookup
      expect(f.log()[0]!.argv).toContain(
        'host=/var/run/postgresql port=6432 dbname=pgbouncer user=pgbouncer_auth connect_timeout=5',
      );

      f.state('verifier', scramVerifier(PW));
      const r = await f.t.exec(script);
      expect(r.stderr).toBe('');
      expect(parseMemberCheck(r.stdout)).toEqual({ version: 'PgBouncer 1.18.0', inRecovery: false });
      const through = f.log().at(-1)!;
      expect(through.argv).toContain('host=10.77.0.11 port=6432 dbname=postgres user=pgbouncer_auth connect_timeout=5');
      expect(through.sql.trim()).toBe('SELECT pg_is_in_recovery()');
      // A wrong password fails the check.
      f.state('verifier', scramVerifier('something else'));
      expect((await f.t.exec(script)).code).not.toBe(0);
    },
  );
});

describe('haproxy pooled frontends', () => {
  const step = stepById(haproxySteps, 'haproxy.config');
  const cfg = async (vars: Record<string, unknown>) =>
    (
      (await plan(step, ctxFor(makeInventory(vars), 'lb1'), {})).find(
        (r) => r.kind === 'file' && r.path === HAPROXY_CONFIG,
      ) as FileResource
    ).content;
  const section = (text: string, name: string) => {
    const rest = text.slice(text.indexOf(`listen ${name}\n`));
    const end = rest.slice(1).search(/\n(listen|#)/);
    return end < 0 ? rest : rest.slice(0, end + 1);
  };

  it('off: the config has no pooled section', async () => {
    expect(await cfg({})).not.toMatch(/pooled|6432/);
  });

  it('on: 6001/6002/6010 reach PgBouncer on each member, health from Patroni like the direct sections', async () => {
    const text = await cfg(ON);
    for (const [px, port, direct] of [
      ['pooled_primary', 6001, 'primary'],
      ['pooled_replicas', 6002, 'replicas'],
      ['pooled_all', 6010, 'all'],
    ] as const) {
      const s = section(text, px);
      expect(s).toContain(`bind *:${port}`);
      for (const [n, a] of [
        ['pg1', '10.77.0.11'],
        ['pg2', '10.77.0.12'],
        ['pg3', '10.77.0.13'],
      ])
        expect(s).toContain(`server ${n} ${a}:6432 maxconn 1000 check port 8008`);
      // The same checks as the direct section of that role.
      const checks = (x: string) => x.split('\n').filter((l) => /httpchk|http-check|default-server|balance/.test(l));
      expect(checks(s)).toEqual(checks(section(text, direct)));
    }
    // The direct sections keep PostgreSQL's port.
    expect(section(text, 'primary')).toContain('server pg1 10.77.0.11:5432 maxconn 200 check port 8008');
  });

  it('pooled ports and the PgBouncer port follow the inventory', async () => {
    const text = await cfg({
      ...ON,
      haproxy_pooled_primary_port: 7001,
      haproxy_pooled_replica_port: 7002,
      haproxy_pooled_all_port: 7010,
      pgbouncer_port: 6543,
    });
    expect(section(text, 'pooled_primary')).toContain('bind *:7001');
    expect(section(text, 'pooled_replicas')).toContain('bind *:7002');
    expect(section(text, 'pooled_all')).toContain('bind *:7010');
    expect(section(text, 'pooled_all')).toContain('server pg2 10.77.0.12:6543 ');
  });

  it('the balancer check expects the pooled sections to mirror the direct ones, only when on', () => {
    const want = { primary: ['pg1'], replicas: ['pg2', 'pg3'], all: ['pg1', 'pg2', 'pg3'] };
    const lb1 = (vars: Record<string, unknown>) => makeInventory(vars).hosts.find((h) => h.name === 'lb1')!;
    expect(withPooledBackends(makeInventory(), lb1({}), want)).toEqual(want);
    expect(withPooledBackends(makeInventory(ON), lb1(ON), want)).toEqual({
      ...want,
      pooled_primary: ['pg1'],
      pooled_replicas: ['pg2', 'pg3'],
      pooled_all: ['pg1', 'pg2', 'pg3'],
    });
  });
});

describe('the connect hint of pgha up', () => {
  it('names the pooled ports when pooling is on, nothing when off', () => {
    expect(pooledConnectLines(makeInventory())).toEqual([]);
    const lines = pooledConnectLines(makeInventory({ ...ON, haproxy_pooled_replica_port: 7002 }));
    expect(lines.map((l) => l.match(/-p (\d+)/)?.[1])).toEqual(['6001', '7002', '6010']);
    expect(lines[0]).toContain('psql -h 10.77.0.100 -p 6001');
  });
});
