import { describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { chooseSecrets } from '../../src/cli/commands/rotate-secrets.js';
import { loadSecrets, replaceSecrets } from '../../src/engine/secrets.js';
import { findPlaybook, loadPlaybook, resolvePlays } from '../../src/playbook/load.js';
import { components } from '../../src/components/index.js';
import { UserError } from '../../src/util/errors.js';
import { makeInventory } from '../components/helpers.js';

const SPECS = [
  { key: 'postgres_superuser_password', length: 32 },
  { key: 'replication_password', length: 32 },
  { key: 'vrrp_password', length: 8 },
];

describe('pgha rotate-secrets: which secrets', () => {
  it('all of them without a name, else the named ones; an unknown name is refused with the list', () => {
    expect(chooseSecrets(SPECS, [])).toEqual(SPECS.map((s) => s.key));
    expect(chooseSecrets(SPECS, ['vrrp_password', 'replication_password'])).toEqual([
      'replication_password',
      'vrrp_password',
    ]);
    expect(() => chooseSecrets(SPECS, ['replication'])).toThrow(UserError);
    expect(() => chooseSecrets(SPECS, ['replication'])).toThrow(/no secret replication/);
    expect(chooseSecrets([...SPECS, { key: 'postgres_user_shop_password', length: 32 }], [])).toContain(
      'postgres_user_shop_password',
    );
  });

  it('a secret without a step in the rotation is left alone, and refused by name', () => {
    const more = [...SPECS, { key: 'etcd_root_password', length: 32 }];
    expect(chooseSecrets(more, [])).toEqual(SPECS.map((s) => s.key));
    expect(() => chooseSecrets(more, ['etcd_root_password'])).toThrow(
      /etcd_root_password is not changed by pgha rotate-secrets/,
    );
  });
});

describe('the secrets file after a rotation', () => {
  const fresh = () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pgha-rot-')), 'secrets.yml');
    const before = loadSecrets(file, SPECS, { check: false, env: {} });
    writeFileSync(file, readFileSync(file, 'utf8') + 'kept_key: kept-value-1\n', { mode: 0o600 });
    return { file, before };
  };

  it('holds new values for the named keys (at their length), the others unchanged, 0600', () => {
    const { file, before } = fresh();
    const got = replaceSecrets(file, SPECS, ['replication_password', 'vrrp_password'], {});
    const now = parse(readFileSync(file, 'utf8')) as Record<string, string>;
    expect(now.replication_password).toBe(got.replication_password);
    expect(now.replication_password).not.toBe(before.replication_password);
    expect(now.vrrp_password).toHaveLength(8);
    expect(now.vrrp_password).not.toBe(before.vrrp_password);
    expect(now.postgres_superuser_password).toBe(before.postgres_superuser_password);
    expect(now.kept_key).toBe('kept-value-1');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadSecrets(file, SPECS, { check: true, env: {} })).toEqual(pick(now));
  });

  it('is refused (and left alone) when PGHA_SECRET_<KEY> is set for a rotated key, or the file is loose', () => {
    const { file, before } = fresh();
    const text = readFileSync(file, 'utf8');
    // Even the value the file holds: after the change the variable would differ from it.
    const env = { PGHA_SECRET_REPLICATION_PASSWORD: before.replication_password };
    expect(() => replaceSecrets(file, SPECS, ['replication_password'], env)).toThrow(
      /PGHA_SECRET_REPLICATION_PASSWORD is set/,
    );
    expect(readFileSync(file, 'utf8')).toBe(text);
    chmodSync(file, 0o644);
    expect(() => replaceSecrets(file, SPECS, ['replication_password'], {})).toThrow(/may be read by others/);
    expect(readFileSync(file, 'utf8')).toBe(text);
  });
});

function pick(all: Record<string, string>): Record<string, string> {
  return Object.fromEntries(SPECS.map((s) => [s.key, all[s.key]!]));
}

describe('the order of a rotation (playbooks/rotate-secrets.yml)', () => {
  it('PostgreSQL first on the leader, then each member one at a time, then PgBouncer, HAProxy, keepalived, verify', () => {
    const pb = loadPlaybook(findPlaybook('rotate-secrets'), components);
    const inv = makeInventory();
    const plays = resolvePlays(pb, inv, components, inv.hosts).map((p) => ({
      step: p.step.id,
      serial: Boolean(p.step.serial),
      hosts: p.hosts.map((h) => h.name).join(','),
    }));
    expect(plays).toEqual([
      { step: 'access.roles', serial: false, hosts: 'pg1,pg2,pg3' },
      { step: 'patroni.config', serial: true, hosts: 'pg1,pg2,pg3' },
      { step: 'pgbouncer.config', serial: true, hosts: 'pg1,pg2,pg3' },
      { step: 'haproxy.config', serial: true, hosts: 'lb1,lb2' },
      { step: 'keepalived.config', serial: false, hosts: 'lb1,lb2' },
      { step: 'haproxy.backends', serial: false, hosts: 'lb1,lb2' },
      { step: 'verify.cluster', serial: false, hosts: 'pg1,pg2,pg3,lb1,lb2' },
    ]);
  });
});
