// The Ansible inventory made from a pgha inventory: groups by role, hosts in the pgha inventory's order with their
// addresses, pgha's vars under the same names, the VIP, the VRRP router id pgha derives, the secrets and the key.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANSIBLE_SECRET_KEYS, ansibleInventory, newSecrets } from '../../bench/ansible-inventory.js';
import { loadInventory } from '../../src/inventory/load.js';
import { catalog } from '../../src/components/index.js';
import { routerIdFor } from '../../src/components/keepalived/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'pgha-ansible-inv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fixture(extra = ''): string {
  const file = join(dir, `fixture${extra ? '-x' : ''}.yml`);
  writeFileSync(
    file,
    [
      'cluster: fixture-a',
      'provider: lab',
      'network: {subnet: 10.231.34.0/24, vip: 10.231.34.100}',
      'ssh: {user: root}',
      'vars:',
      '  tls_enabled: false',
      '  haproxy_maxconn: 2500',
      '  postgres_parameters: {work_mem: 8MB}',
      extra,
      'hosts:',
      '  lb1: {address: 10.231.34.21, roles: [haproxy]}',
      '  pg1: {address: 10.231.34.11, roles: [postgres, etcd]}',
      '  lb2: {address: 10.231.34.22, roles: [haproxy]}',
      '  pg2: {address: 10.231.34.12, roles: [postgres, etcd]}',
      '  pg3: {address: 10.231.34.13, roles: [postgres, etcd]}',
      '',
    ].join('\n'),
  );
  return file;
}

const secrets = newSecrets();

describe('ansibleInventory', () => {
  const inv = loadInventory(fixture(), catalog);
  const a = ansibleInventory(inv, secrets, '/k/id_ed25519');

  it('lists every host with its address in the inventory order, and one group per role', () => {
    expect(Object.entries(a.all.hosts).map(([n, h]) => `${n}=${h.ansible_host}`)).toEqual([
      'lb1=10.231.34.21',
      'pg1=10.231.34.11',
      'lb2=10.231.34.22',
      'pg2=10.231.34.12',
      'pg3=10.231.34.13',
    ]);
    expect(Object.keys(a.all.children.etcd.hosts)).toEqual(['pg1', 'pg2', 'pg3']);
    expect(Object.keys(a.all.children.postgres.hosts)).toEqual(['pg1', 'pg2', 'pg3']);
    expect(Object.keys(a.all.children.haproxy.hosts)).toEqual(['lb1', 'lb2']);
  });

  it("passes pgha's vars on under the same names, with the cluster, VIP, router id, key and secrets", () => {
    const v = a.all.vars;
    expect(v).toMatchObject({
      tls_enabled: false,
      haproxy_maxconn: 2500,
      postgres_parameters: { work_mem: '8MB' },
      ansible_user: 'root',
      ansible_ssh_private_key_file: '/k/id_ed25519',
      pgha_cluster: 'fixture-a',
      vip: '10.231.34.100',
      vip_prefix: 24,
      keepalived_virtual_router_id: routerIdFor('fixture-a'),
    });
    for (const k of ANSIBLE_SECRET_KEYS) expect(v[k]).toBe(secrets[k]);
  });

  it("takes the inventory's own router id when it sets one", () => {
    const own = loadInventory(fixture('  keepalived_virtual_router_id: 77'), catalog);
    expect(ansibleInventory(own, secrets, '/k').all.vars.keepalived_virtual_router_id).toBe(77);
  });

  it('refuses an inventory without a host of each role', () => {
    const noLb = { ...inv, hosts: inv.hosts.filter((h) => !h.roles.includes('haproxy')) };
    expect(() => ansibleInventory(noLb, secrets, '/k')).toThrow(/no host with role haproxy/);
  });
});

describe('newSecrets', () => {
  it('gives letters and digits only, 32 characters, and 8 for VRRP (keepalived reads no more)', () => {
    const s = newSecrets();
    for (const k of ANSIBLE_SECRET_KEYS) {
      expect(s[k]).toMatch(/^[A-Za-z0-9]+$/);
      expect(s[k]).toHaveLength(k === 'vrrp_password' ? 8 : 32);
    }
    expect(newSecrets().postgres_superuser_password).not.toBe(s.postgres_superuser_password);
  });

  it('maps each random byte onto the alphabet', () => {
    const zeros = newSecrets((n) => Buffer.alloc(n, 0));
    expect(zeros.vrrp_password).toBe('AAAAAAAA');
    const last = newSecrets((n) => Buffer.alloc(n, 61));
    expect(last.rewind_password).toBe('9'.repeat(32));
  });
});
