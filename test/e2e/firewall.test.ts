// The host firewall on a real lab: pgha up builds the cluster behind nftables (table inet pgha on every host) and
// verifies it; writes go through VIP:5001; from bk1, a host of the inventory that is no member, etcd, Patroni and
// PostgreSQL on a member stay silent while a member reaches them; pgha's SSH still works; a second run changes
// nothing; a changed rule set reloads only pgha's table; an admin list without pgha's address is refused by plan.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { connect, expectOk, inventory, pgha, sh, tempInventory } from './helpers.js';
import { ensurePsql } from './psql.js';
import { psqlAt } from '../../bench/load.js';
import { sidecarPath, type Inventory } from '../../src/inventory/types.js';
import type { SshTransport } from '../../src/engine/transport.js';
import { probeFrom } from '../../src/components/firewall/facts.js';

const file = tempInventory('firewall.yml');
const VIP = '10.231.240.100';
const PG1 = '10.231.240.11';
let inv: Inventory;
let ssh: Map<string, SshTransport> | undefined;

beforeAll(() => ensurePsql());

afterAll(async () => {
  for (const t of ssh?.values() ?? []) await t.close();
  await pgha(['destroy', '-i', file, '--yes']);
});

describe('host firewall', () => {
  it('pgha up builds and verifies the cluster behind the firewall; writes go through VIP:5001', async () => {
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up');
    const fw = (r.json.steps as { step: string; seconds: number }[]).find((x) => x.step === 'firewall.config');
    console.log(
      `fresh pgha up with the firewall: ${r.seconds.toFixed(1)} s, firewall.config ${fw?.seconds.toFixed(1)} s`,
    );
    const steps = new Set((r.json.changes as { step: string }[]).map((c) => c.step));
    expect(steps).toContain('firewall.config');
    expect(steps).toContain('backup.stanza'); // pgBackRest's TLS server got through between bk1 and the members
    inv = await inventory(file);
    const pw = (parse(readFileSync(sidecarPath(inv, 'secrets.yml'), 'utf8')) as Record<string, string>)
      .postgres_superuser_password!;
    const w = await psqlAt(
      VIP,
      5001,
      pw,
      'CREATE TABLE IF NOT EXISTS fw_probe (id int); INSERT INTO fw_probe VALUES (1); SELECT count(*) FROM fw_probe;',
      20_000,
    );
    expect(w.err).toBe('');
    expect(w.out.trim().split('\n').pop()).toBe('1');
  });

  it('every host has the table loaded with policy drop, and nftables enabled for boot; SSH still works', async () => {
    ssh = await connect(inv);
    for (const [name, t] of ssh) {
      expect(await sh(t, 'nft list chain inet pgha input | grep -c "policy drop;"'), name).toBe('1');
      expect(await sh(t, 'systemctl is-enabled nftables'), name).toBe('enabled');
    }
  });

  it('from bk1 (no member) etcd, Patroni and PostgreSQL on pg1 stay silent; from pg2 they answer', async () => {
    const targets = [2379, 8008, 5432].map((port) => ({ address: PG1, port }));
    const outsider = await probeFrom(ssh!.get('bk1')!, [...targets, { address: PG1, port: 8432 }]);
    const member = await probeFrom(ssh!.get('pg2')!, targets);
    console.log(`from bk1: ${[...outsider].join(' ')}; from pg2: ${[...member].join(' ')}`);
    for (const t of targets) {
      expect(outsider.get(`${PG1}:${t.port}`), `bk1 -> ${t.port}`).toBe('timeout');
      expect(member.get(`${PG1}:${t.port}`), `pg2 -> ${t.port}`).toBe('open');
    }
    expect(outsider.get(`${PG1}:8432`)).toBe('open'); // pgBackRest's TLS server: the one port bk1 needs
  });

  it('a second pgha up changes nothing', async () => {
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up (no-op)');
    console.log(`no-op pgha up with the firewall: ${r.seconds.toFixed(1)} s`);
    expect(r.json.changes).toEqual([]);
  });

  it('one more port on pg1 changes and reloads only its pgha table: another table on the host stays', async () => {
    const pg1 = ssh!.get('pg1')!;
    await sh(pg1, 'nft add table inet keepme && nft add chain inet keepme c');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        'roles: [postgres, etcd]}\n',
        'roles: [postgres, etcd], vars: {firewall_open_tcp_ports: "7777"}}\n',
      ),
    );
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up (one more port)');
    const changed = (r.json.changes as { host: string; step: string }[]).map((c) => `${c.host} ${c.step}`);
    console.log(`changed rule set: ${r.seconds.toFixed(1)} s, changes: ${[...new Set(changed)].join(', ')}`);
    expect(new Set(changed)).toEqual(new Set(['pg1 firewall.config']));
    expect((await sh(pg1, 'nft list tables')).split('\n').sort()).toEqual(['table inet keepme', 'table inet pgha']);
    expect(await sh(pg1, 'nft list chain inet pgha input | grep -c "tcp dport 7777"')).toBe('1');
  });

  it('plan refuses an admin list without the address pgha connects from, naming it, before any change', async () => {
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(
        '  firewall_enabled: true\n',
        '  firewall_enabled: true\n  firewall_admin_cidrs: "10.231.240.200"\n',
      ),
    );
    const before = await sh(ssh!.get('pg1')!, 'sha256sum /etc/pgha/firewall.nft');
    const r = await pgha(['up', '-i', file], { json: false });
    expect(r.code).toBe(2);
    expect(`${r.stdout}${r.stderr}`).toMatch(/pgha connects from 10\.231\.240\.1, outside firewall_admin_cidrs/);
    expect(await sh(ssh!.get('pg1')!, 'sha256sum /etc/pgha/firewall.nft')).toBe(before);
  });
});
