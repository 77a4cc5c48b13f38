import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { importAnsible } from '../../../src/import/ansible/index.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { UserError } from '../../../src/util/errors.js';
import { ALL_VARS, AUTOBASE_INI, layout } from './layout.js';
import { catalog } from '../../../src/components/index.js';

/** Import a layout, write the text beside it and load it with pgha's own loader. */
function run(files: Record<string, string>, opts: { provider?: 'static' | 'lab'; cluster?: string } = {}) {
  const dir = layout({ inventory: AUTOBASE_INI, ...files });
  const r = importAnsible(join(dir, 'inventory'), opts);
  const file = join(dir, 'imported.yml');
  writeFileSync(file, r.text);
  return { ...r, inv: loadInventory(file, catalog), data: parse(r.text) as Record<string, any> };
}

const why = (r: { unmapped: { name: string; where: string; why: string }[] }, name: string) =>
  r.unmapped.filter((u) => u.name === name);

/** Every unmapped variable is a comment of the text, with its place. */
function commented(r: { text: string; unmapped: { name: string; where: string }[] }) {
  for (const u of r.unmapped) {
    const line = r.text
      .split('\n')
      .find((l) => l.trim().startsWith(`# not imported: ${u.name}`) && l.includes(`[${u.where}]`));
    expect(line, `comment for ${u.name} at ${u.where}`).toBeDefined();
  }
}

describe('Ansible variables -> pgha inventory', () => {
  it('maps roles, names, addresses, the VIP, the cluster name and keeps other groups', () => {
    const r = run({ 'group_vars/all.yml': ALL_VARS });
    expect(r.inv.cluster).toBe('orders');
    expect(r.inv.vip).toBe('10.231.120.100');
    expect(r.inv.subnet).toBe('10.231.120.0/24');
    expect(r.inv.provider.type).toBe('static');
    expect(Object.fromEntries(r.inv.hosts.map((h) => [h.name, [h.address, [...h.roles].sort().join(',')]]))).toEqual({
      pg1: ['10.231.120.11', 'etcd,postgres'],
      pg2: ['10.231.120.12', 'etcd,postgres'],
      pg3: ['10.231.120.13', 'etcd,postgres'],
      lb1: ['10.231.120.21', 'haproxy'],
      lb2: ['10.231.120.22', 'haproxy'],
    });
    expect(r.inv.groups['dc-east']).toEqual(['pg1', 'lb1']);
    expect(r.data.groups['dc-east'].description).toBe('Ansible group dc_east');
    expect(r.text).toContain(
      '# group balancers -> role haproxy on lb1, lb2 with the VIP 10.231.120.100 (with_haproxy_load_balancing: true)',
    );
    expect(r.unmapped).toEqual([]);
  });

  it('maps each cluster variable, coercing Ansible strings, resolving {{ var }} and merging parameter lists', () => {
    const r = run({
      'group_vars/all.yml':
        ALL_VARS +
        `postgresql_version: "15"
postgresql_port: "5433"
synchronous_mode: "yes"
synchronous_mode_strict: True
synchronous_node_count: 1
patroni_ttl: 20
patroni_loop_wait: "4"
patroni_retry_timeout: 5
patroni_maximum_lag_on_failover: 2097152
patroni_restapi_port: 8010
patroni_superuser_username: admin
patroni_replication_username: repl
etcd_cluster_name: "etcd-{{ patroni_cluster_name }}"
vip_interface: eth1
haproxy_listen_port: {master: 6001, replicas: 6002, stats: 7001}
haproxy_maxconn: {global: 5000}
enc: scram-sha-256
postgresql_parameters:
  - {option: max_connections, value: "300"}
  - {option: password_encryption, value: "{{ enc }}"}
  - {option: log_filename, value: "'postgresql-%a.log'"}
  - {option: work_mem, value: 8MB}
`,
      'group_vars/postgres_cluster.yml': 'local_postgresql_parameters:\n  - {option: work_mem, value: 16MB}\n',
    });
    expect(r.inv.vars).toEqual({
      postgres_port: 5433,
      patroni_synchronous_mode: true,
      patroni_synchronous_mode_strict: true,
      patroni_ttl: 20,
      patroni_loop_wait: 4,
      patroni_retry_timeout: 5,
      patroni_maximum_lag_on_failover: 2097152,
      patroni_restapi_port: 8010,
      postgres_superuser: 'admin',
      postgres_replication_user: 'repl',
      etcd_initial_cluster_token: 'etcd-orders',
      keepalived_interface: 'eth1',
      haproxy_primary_port: 6001,
      haproxy_replica_port: 6002,
      haproxy_stats_port: 7001,
      haproxy_maxconn: 5000,
      postgres_parameters: {
        max_connections: 300,
        password_encryption: 'scram-sha-256',
        log_filename: 'postgresql-%a.log',
        work_mem: '16MB',
      },
    });
    expect(r.unmapped.map((u) => u.name)).toEqual(['enc']);
  });

  it('local_postgresql_parameters win over postgresql_parameters wherever each is set', () => {
    const r = run({
      'group_vars/all.yml': ALL_VARS + 'local_postgresql_parameters:\n  - {option: work_mem, value: 32MB}\n',
      'group_vars/postgres_cluster.yml':
        'postgresql_parameters:\n  - {option: work_mem, value: 4MB}\n  - {option: max_connections, value: 50}\n',
    });
    expect(r.inv.vars.postgres_parameters).toEqual({ max_connections: 50, work_mem: '32MB' });
  });

  it('maps host connection variables to ssh settings, shared ones inventory-wide', () => {
    const r = run({
      'group_vars/all.yml':
        ALL_VARS + 'ansible_user: deploy\nansible_become: "true"\nansible_ssh_private_key_file: keys/id_ed25519\n',
      'host_vars/10.231.120.13.yml': 'ansible_port: 2222\nansible_host: 10.231.120.33\n',
    });
    expect(r.data.ssh).toEqual({ user: 'deploy', key_file: join(r.inv.dir, 'keys', 'id_ed25519'), become: true });
    const pg3 = r.inv.hosts.find((h) => h.name === 'pg3')!;
    expect(pg3.address).toBe('10.231.120.33');
    expect(pg3.ssh).toMatchObject({ user: 'deploy', port: 2222, become: true });
    expect(r.inv.hosts.find((h) => h.name === 'pg1')!.ssh.port).toBe(22);
    expect(r.text).toContain('# Ansible host 10.231.120.13');
  });

  it('lists every variable it cannot map, with where and why, as a comment', () => {
    const r = run({
      'group_vars/all.yml':
        ALL_VARS +
        `pgbouncer_install: true
postgresql_version: 16
synchronous_mode: true
synchronous_node_count: 2
patroni_restapi_port: 70000
patroni_superuser_username: "Admin User"
vip_interface: "{{ ansible_default_ipv4.interface }}"
postgresql_parameters:
  - {option: listen_addresses, value: "0.0.0.0"}
  - {option: log_directory, value: "{{ postgresql_log_dir }}"}
`,
      'group_vars/balancers.yml': 'haproxy_listen_port: {master: 5000, replicas_sync: 5002}\n',
      'host_vars/10.231.120.12.yml': 'postgresql_exists: false\n',
    });
    expect(why(r, 'pgbouncer_install')).toEqual([
      {
        name: 'pgbouncer_install',
        where: 'group_vars/all.yml:4',
        why: 'set pgbouncer_enabled and the pgbouncer_* variables by hand (README: Connection pooling)',
      },
    ]);
    expect(why(r, 'postgresql_version')[0]).toMatchObject({
      where: 'group_vars/all.yml:5',
      why: expect.stringMatching(/PostgreSQL 15 only/),
    });
    expect(r.inv.vars.postgres_version).toBeUndefined();
    expect(why(r, 'synchronous_node_count')[0].why).toMatch(/one synchronous replica/);
    expect(why(r, 'patroni_restapi_port')[0].why).toBe('patroni_restapi_port must be between 1 and 65535, not 70000');
    expect(why(r, 'patroni_superuser_username')[0].why).toMatch(/is not a valid postgres_superuser/);
    expect(why(r, 'vip_interface')[0].why).toMatch(/Jinja/);
    expect(why(r, 'postgresql_parameters[listen_addresses]')[0].why).toMatch(/set by Patroni and pgha/);
    expect(why(r, 'postgresql_parameters[log_directory]')[0].why).toMatch(/Jinja/);
    expect(why(r, 'haproxy_listen_port.replicas_sync')[0].where).toBe('group_vars/balancers.yml:1');
    expect(why(r, 'postgresql_exists')[0]).toEqual({
      name: 'postgresql_exists',
      where: 'host_vars/10.231.120.12.yml:1',
      why: 'Ansible run state, not a cluster setting (host pg2)',
    });
    expect(r.inv.vars).toEqual({ patroni_synchronous_mode: true, haproxy_primary_port: 5000 });
    commented(r);
    // A host's own variable is commented before that host.
    expect(r.text).toMatch(
      /# not imported: postgresql_exists=false \(Ansible run state, not a cluster setting\) \[host_vars\/10\.231\.120\.12\.yml:1\]\n\s+pg2:/,
    );
  });

  it('reports a setting that differs between hosts and a parameter set on one member only', () => {
    const r = run({
      'group_vars/all.yml': ALL_VARS + 'patroni_ttl: 30\n',
      'host_vars/10.231.120.11.yml':
        'patroni_ttl: 40\nlocal_postgresql_parameters:\n  - {option: work_mem, value: 64MB}\n',
    });
    expect(r.inv.vars.patroni_ttl).toBeUndefined();
    expect(
      why(r, 'patroni_ttl')
        .map((u) => u.where)
        .sort(),
    ).toEqual(['group_vars/all.yml:4', 'host_vars/10.231.120.11.yml:1']);
    expect(why(r, 'patroni_ttl')[0].why).toMatch(/differs between hosts/);
    expect(why(r, 'postgres parameter work_mem')[0]).toMatchObject({
      where: 'host_vars/10.231.120.11.yml:2',
      why: expect.stringMatching(/set on pg1 only.*cluster-wide/),
    });
    commented(r);
  });

  it('refuses Patroni timings that break loop_wait + 2 * retry_timeout <= ttl', () => {
    const r = run({
      'group_vars/all.yml': ALL_VARS + 'patroni_ttl: 10\npatroni_loop_wait: 10\npatroni_retry_timeout: 10\n',
    });
    expect(r.inv.vars).toEqual({});
    expect(why(r, 'patroni_ttl')[0].why).toMatch(/exceeds patroni_ttl/);
    expect(why(r, 'patroni_retry_timeout')).toHaveLength(1);
  });

  it('never writes secrets: only their name and place', () => {
    const r = run({
      'group_vars/all.yml':
        ALL_VARS +
        'patroni_superuser_password: "S3cret-value"\nansible_ssh_pass: hunter2-pass\nother: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6134\n',
      'host_vars/10.231.120.21.yml': '$ANSIBLE_VAULT;1.1;AES256\n3132\n',
    });
    expect(r.text).not.toContain('S3cret-value');
    expect(r.text).not.toContain('hunter2');
    expect(r.text).toContain('# not imported: patroni_superuser_password (a secret');
    expect(why(r, 'ansible_ssh_pass')[0].why).toMatch(/SSH keys/);
    expect(why(r, 'other')[0].why).toMatch(/ansible-vault/);
    expect(why(r, '(whole file)')[0]).toMatchObject({
      where: 'host_vars/10.231.120.21.yml',
      why: expect.stringMatching(/ansible-vault.*host lb1/),
    });
    commented(r);
  });

  it('balancers without a usable VIP get no haproxy role; with_haproxy_load_balancing false is said', () => {
    const none = run({ 'group_vars/all.yml': 'patroni_cluster_name: orders\n' });
    expect(none.inv.hosts.map((h) => h.name).sort()).toEqual(['pg1', 'pg2', 'pg3']);
    expect(none.inv.vip).toBeUndefined();
    expect(none.text).toContain('has no usable cluster_vip: no haproxy role given');
    expect(why(none, 'host 10.231.120.21')[0].why).toMatch(/no role left/);
    const off = run({
      'group_vars/all.yml': ALL_VARS.replace('with_haproxy_load_balancing: true', 'with_haproxy_load_balancing: false'),
    });
    expect(off.inv.groups.haproxy).toEqual(['lb1', 'lb2']);
    expect(off.text).toContain('with_haproxy_load_balancing is false, but pgha reaches the cluster through HAProxy');
    const bad = run({ 'group_vars/all.yml': ALL_VARS.replace('10.231.120.100', '10.231.120.100,10.231.121.100') });
    expect(why(bad, 'cluster_vip')[0].why).toBe('not one IPv4 address');
  });

  it('provider lab: SSH settings are left to the lab, the cluster name can be given', () => {
    const r = run(
      { 'group_vars/all.yml': ALL_VARS + 'ansible_user: deploy\n' },
      { provider: 'lab', cluster: 'ansible-import' },
    );
    expect(r.inv.provider.type).toBe('lab');
    expect(r.inv.cluster).toBe('ansible-import');
    expect(r.data.ssh).toBeUndefined();
    expect(why(r, 'ansible_user')[0].why).toMatch(/provider lab/);
    expect(why(r, 'patroni_cluster_name')[0].why).toMatch(/given as ansible-import/);
    expect(() => run({}, { cluster: 'Not Valid' })).toThrow(UserError);
  });

  it('a host without an IPv4 address is an error naming it; a host in no role group is left out', () => {
    expect(() => run({ 'host_vars/10.231.120.21.yml': 'ansible_host: lb1.example.org\n' })).toThrow(
      /no IPv4 address for 10\.231\.120\.21 \(lb1\.example\.org\)/,
    );
    const r = run({ 'group_vars/all.yml': ALL_VARS, inventory: AUTOBASE_INI + '[monitoring]\n10.231.120.50\n' });
    expect(r.inv.hosts).toHaveLength(5);
    expect(why(r, 'host 10.231.120.50')[0].why).toMatch(/in no group pgha maps to a role/);
  });

  it('the shipped example imports with the decisions described in its files', () => {
    const r = importAnsible('inventory/ansible-example/inventory', {});
    const dir = layout({});
    writeFileSync(join(dir, 'x.yml'), r.text);
    const inv = loadInventory(join(dir, 'x.yml'), catalog);
    expect(inv.hosts).toHaveLength(5);
    expect(inv.vars.patroni_ttl).toBe(30);
    expect(why(r, 'pgbouncer_install')).toHaveLength(1);
    expect(why(r, 'postgresql_version')).toHaveLength(1);
    commented(r);
  });
});
