import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { BASE, errorLines, load, loadError } from '../inventory/helpers.js';
import { accessSettings, accessSecrets } from '../../src/components/access/settings.js';
import { hbaLines } from '../../src/components/access/hba.js';
import { pgHba } from '../../src/components/patroni/steps.js';
import { patroniSettings } from '../../src/components/patroni/settings.js';
import { access, systemRoles } from '../../src/components/access/index.js';
import { accessChanges, accessFact, parseAccessFacts, type AccessFacts } from '../../src/components/access/sql.js';
import { scramMatches, scramVerifier } from '../../src/components/access/scram.js';
import { fakeBin } from '../engine/fake-bin.js';
import { ctxFor, makeInventory, SECRETS } from './helpers.js';

const DECL = `vars:
  postgres_users:
    - {name: shop, connection_limit: 20}
    - {name: report}
  postgres_databases:
    - {name: shopdb, owner: shop}
  postgres_hba:
    - {database: shopdb, user: report, address: 10.9.0.0/16}
`;

describe('declared databases, users and pg_hba rules in the inventory', () => {
  it('are read with their defaults, and each user gets a password in the secrets file', () => {
    const inv = load(BASE + DECL);
    const a = accessSettings(inv, inv.hosts[0]!);
    expect(a).toEqual({
      databases: [{ name: 'shopdb', owner: 'shop', encoding: 'UTF8' }],
      users: [
        { name: 'shop', connectionLimit: 20 },
        { name: 'report', connectionLimit: -1 },
      ],
      hba: [{ type: 'host', database: 'shopdb', user: 'report', address: '10.9.0.0/16', method: 'scram-sha-256' }],
    });
    expect(accessSecrets(inv).map((s) => s.key)).toEqual([
      'postgres_user_shop_password',
      'postgres_user_report_password',
    ]);
  });

  it('a bad entry is refused by the schema at its line', () => {
    const e = loadError(BASE + DECL.replace('{name: report}', '{name: Report, conn_limit: 3}'));
    expect(errorLines(e)).toEqual([
      {
        line: 15,
        field: 'vars.postgres_users.1.conn_limit',
        message: "unknown key 'conn_limit' (allowed: name, connection_limit)",
      },
      {
        line: 15,
        field: 'vars.postgres_users.1.name',
        message: "'Report' is not valid: Role name (LOGIN, no superuser, no CREATEROLE).",
      },
    ]);
    const hba = errorLines(loadError(BASE + DECL.replace('10.9.0.0/16', '10.9.0.0')));
    expect(hba).toEqual([
      {
        line: 19,
        field: 'vars.postgres_hba.0.address',
        message: "'10.9.0.0' is not valid: Client addresses, IPv4 CIDR.",
      },
    ]);
  });

  it('an owner that is not declared, a duplicate, or a name pgha keeps is refused', () => {
    expect(loadError(BASE + DECL.replace('owner: shop', 'owner: nobody')).message).toContain(
      'the owner nobody of shopdb is not declared in postgres_users',
    );
    expect(loadError(BASE + DECL.replace('{name: report}', '{name: shop}')).message).toContain(
      'postgres_users declares shop twice',
    );
    expect(loadError(BASE + DECL.replace('name: shopdb,', 'name: pgha,')).message).toContain(
      'pgha is a database pgha keeps itself',
    );
  });
});

describe('pg_hba', () => {
  const inv = makeInventory({
    postgres_users: [{ name: 'shop' }, { name: 'report' }],
    postgres_databases: [{ name: 'shopdb', owner: 'shop' }],
    postgres_hba: [{ database: 'shopdb', user: 'report', address: '10.9.0.0/16', method: 'reject' }],
  });
  inv.hosts.push({ ...inv.hosts[3]!, name: 'app1', address: '10.77.0.31', roles: ['client'] });

  it('superuser local and from the cluster hosts only, replication between members, apps to their own database', () => {
    const ctx = ctxFor(inv, 'pg1');
    // Without TLS; with it (the default) every rule for another host is hostssl, loopback stays host.
    const withTls = pgHba(ctx, patroniSettings(inv, inv.hosts[0]!));
    expect(withTls).toContain('hostssl shopdb report 10.9.0.0/16 reject');
    expect(withTls).toContain('hostssl replication replicator 10.77.0.12/32 scram-sha-256');
    expect(withTls).toContain('host shopdb shop 127.0.0.1/32 scram-sha-256');
    expect(pgHba(ctx, patroniSettings(inv, inv.hosts[0]!), false)).toEqual([
      'local all all peer',
      'host all postgres 127.0.0.1/32 scram-sha-256',
      'host replication replicator 127.0.0.1/32 scram-sha-256',
      'host replication replicator 10.77.0.11/32 scram-sha-256',
      'host replication replicator 10.77.0.12/32 scram-sha-256',
      'host replication replicator 10.77.0.13/32 scram-sha-256',
      'host all rewind_user 10.77.0.11/32 scram-sha-256',
      'host all rewind_user 10.77.0.12/32 scram-sha-256',
      'host all rewind_user 10.77.0.13/32 scram-sha-256',
      'host all postgres 10.77.0.11/32 scram-sha-256',
      'host all postgres 10.77.0.12/32 scram-sha-256',
      'host all postgres 10.77.0.13/32 scram-sha-256',
      'host all postgres 10.77.0.21/32 scram-sha-256',
      'host all postgres 10.77.0.22/32 scram-sha-256',
      'host shopdb report 10.9.0.0/16 reject',
      'host shopdb shop 127.0.0.1/32 scram-sha-256',
      'host shopdb shop 10.77.0.0/24 scram-sha-256',
    ]);
  });

  it("no line lets every role into every database, nor the client host's address in", () => {
    const lines = pgHba(ctxFor(inv, 'pg1'), patroniSettings(inv, inv.hosts[0]!));
    expect(lines.filter((l) => / all all /.test(l) && !l.startsWith('local'))).toEqual([]);
    expect(lines.join('\n')).not.toContain('10.77.0.31');
  });

  it("PgBouncer's auth role from loopback when pooling is on", () => {
    const base = { hosts: inv.hosts, subnet: inv.subnet, superuser: 'postgres', replicationUser: 'r', rewindUser: 'w' };
    const none = { databases: [], users: [], hba: [] };
    expect(hbaLines({ ...base, access: none, pgbouncerAuthUser: 'pgbouncer_auth' })).toContain(
      'host all pgbouncer_auth 127.0.0.1/32 scram-sha-256',
    );
    expect(hbaLines({ ...base, access: none }).join('\n')).not.toContain('pgbouncer');
  });
});

describe('SCRAM verifiers', () => {
  it('a verifier matches its password only (checked against Python hashlib as PostgreSQL computes it)', () => {
    const v = scramVerifier('s3cret-pw');
    expect(scramMatches('s3cret-pw', v)).toBe(true);
    expect(scramMatches('other', v)).toBe(false);
    expect(scramMatches('s3cret-pw', 'md5abc')).toBe(false);
    expect(scramMatches('s3cret-pw', null)).toBe(false);
    const py = `
import base64, hashlib, hmac, re, sys
m = re.match(r"^SCRAM-SHA-256\\$(\\d+):([^$]+)\\$([^:]+):(.+)$", sys.argv[1])
s = hashlib.pbkdf2_hmac("sha256", sys.argv[2].encode(), base64.b64decode(m[2]), int(m[1]))
ck = hmac.new(s, b"Client Key", "sha256").digest()
print(base64.b64encode(hashlib.sha256(ck).digest()).decode() == m[3])`;
    expect(execFileSync('python3', ['-c', py, v, 's3cret-pw'], { encoding: 'utf8' }).trim()).toBe('True');
  });
});

const FACTS: AccessFacts = {
  primary: true,
  roles: [
    {
      name: 'shop',
      login: true,
      super: false,
      limit: 20,
      verifier: scramVerifier(SECRETS.postgres_superuser_password!),
    },
  ],
  databases: [
    { name: 'pgha', owner: 'postgres' },
    { name: 'shopdb', owner: 'shop' },
  ],
};

describe('roles and databases on the leader', () => {
  const a = {
    databases: [{ name: 'shopdb', owner: 'shop', encoding: 'UTF8' }],
    users: [
      { name: 'shop', connectionLimit: 20 },
      { name: 'report', connectionLimit: -1 },
    ],
    hba: [],
  };
  const pw = { shop: SECRETS.postgres_superuser_password!, report: 'report-pw-1234' };

  it('creates what is missing, with a SCRAM verifier and never the clear-text password', () => {
    const c = accessChanges(a, { primary: true, roles: [], databases: [] }, pw, 'postgres');
    expect(c.map((x) => x.label)).toEqual([
      'create role shop',
      'create role report',
      'create database pgha (owner postgres)',
      'create database shopdb (owner shop)',
    ]);
    expect(c[1]!.sql).toMatch(
      /^CREATE ROLE "report" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE CONNECTION LIMIT -1 PASSWORD 'SCRAM-SHA-256\$4096:/,
    );
    for (const x of c) expect(x.sql).not.toContain('report-pw-1234');
    expect(scramMatches('report-pw-1234', /PASSWORD '([^']+)'/.exec(c[1]!.sql)![1])).toBe(true);
    expect(c[3]!.sql).toBe(`CREATE DATABASE "shopdb" OWNER "shop" ENCODING 'UTF8' TEMPLATE template0;`);
  });

  it('a re-run with everything in place is a no-op; a changed limit, owner or password is corrected', () => {
    const one = { ...a, users: [a.users[0]!] };
    expect(accessChanges(one, FACTS, pw, 'postgres')).toEqual([]);
    const drift: AccessFacts = {
      ...FACTS,
      roles: [{ ...FACTS.roles[0]!, limit: 5, verifier: scramVerifier('old') }],
      databases: [
        { name: 'pgha', owner: 'postgres' },
        { name: 'shopdb', owner: 'postgres' },
      ],
    };
    expect(accessChanges(one, drift, pw, 'postgres').map((x) => x.label)).toEqual([
      'alter role shop (login nosuperuser nocreatedb nocreaterole connection limit 20)',
      'set the password of shop',
      'database shopdb: owner postgres -> shop',
    ]);
  });

  it("Patroni's roles, and PgBouncer's auth role with pooling, are kept at the secrets file's passwords", () => {
    const names = (vars: Record<string, unknown>) => systemRoles(ctxFor(makeInventory(vars), 'pg1')).map((r) => r.name);
    expect(names({})).toEqual(['postgres', 'replicator', 'rewind_user']);
    expect(names({ pgbouncer_enabled: true })).toEqual(['postgres', 'replicator', 'rewind_user', 'pgbouncer_auth']);
  });

  it("Patroni's roles get the secrets file's password when theirs differs", () => {
    const none = { databases: [], users: [], hba: [] };
    const facts: AccessFacts = {
      primary: true,
      roles: [
        { name: 'postgres', login: true, super: true, limit: -1, verifier: scramVerifier('new-super') },
        { name: 'replicator', login: true, super: false, limit: -1, verifier: scramVerifier('old-repl') },
      ],
      databases: [{ name: 'pgha', owner: 'postgres' }],
    };
    const system = [
      { name: 'postgres', password: 'new-super' },
      { name: 'replicator', password: 'new-repl' },
    ];
    expect(accessChanges(none, facts, {}, 'postgres', system).map((x) => x.label)).toEqual([
      'set the password of replicator',
    ]);
  });

  it('the facts come from one psql call with the query on stdin; a stopped PostgreSQL reads as not primary', async () => {
    const answer = JSON.stringify(FACTS);
    const f = fakeBin({
      runuser: 'while [ "$1" != "--" ]; do shift; done; shift; exec "$@"',
      psql: `cat > "$FAKE/sql"; printf '%s\\n' '${answer}'`,
    });
    const spec = accessFact(5432, ['postgres', 'shop'], ['pgha', 'shopdb']);
    const r = await f.t.exec(spec.script);
    expect(parseAccessFacts(r.stdout)).toEqual(FACTS);
    const sql = (await f.t.exec('cat "$FAKE/sql"')).stdout;
    expect(sql).toContain("rolname = any(ARRAY['postgres','shop']::text[])");
    expect(sql).toContain("datname = any(ARRAY['pgha','shopdb']::text[])");
    expect(f.calls()).toEqual([
      expect.stringMatching(/^runuser -u postgres -- psql -X -At .* -f -$/),
      expect.stringMatching(/^psql /),
    ]);
    const down = fakeBin({ runuser: 'exit 2', psql: 'exit 2' });
    expect(parseAccessFacts((await down.t.exec(spec.script)).stdout)).toEqual({ roles: [], databases: [] });
    expect(() => parseAccessFacts('{"roles": 1}')).toThrow(/unexpected answer/);
  });

  it('the step acts on the primary only, SQL on stdin with the passwords masked', async () => {
    const inv = makeInventory({ postgres_users: [{ name: 'shop', connection_limit: 20 }] });
    const secrets = { ...SECRETS, postgres_user_shop_password: 'shop-pw-5678' };
    const ctx = { ...ctxFor(inv, 'pg1'), secrets };
    const step = access.steps[0]!;
    expect(await step.resources(ctx, { pg: { ...FACTS, primary: false, roles: [] } })).toEqual([]);
    expect(await step.resources(ctx, {})).toEqual([]);
    const rs = await step.resources(ctx, { pg: { ...FACTS, roles: [] } });
    const shop = rs.find((r) => r.kind === 'command' && r.label === 'create role shop');
    expect(shop).toMatchObject({ kind: 'command', script: expect.stringContaining('psql'), stdin: expect.any(String) });
    if (shop?.kind !== 'command') throw new Error('no command');
    expect(shop.script).not.toContain('SCRAM');
    expect(shop.secrets).toContain('shop-pw-5678');
  });
});
