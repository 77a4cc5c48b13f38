import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { loadInventory } from '../../src/inventory/load.js';
import { clusterParameters, localParameters } from '../../src/components/patroni/settings.js';
import { catalog } from '../../src/components/index.js';
import { sidecarPath } from '../../src/inventory/types.js';
import { defaultBridge } from '../../src/inventory/normalize.js';
import { BASE, load, writeInventory } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('shipped inventories', () => {
  it('inventory/lab.yml: 2 balancers, 3 postgres+etcd hosts, a backup host, lab defaults', () => {
    const inv = loadInventory(join(ROOT, 'inventory/lab.yml'), catalog);
    expect(inv.cluster).toBe('pgha-lab');
    expect(inv.file).toBe(join(ROOT, 'inventory/lab.yml'));
    expect(inv.dir).toBe(join(ROOT, 'inventory'));
    expect(inv.hosts.map((h) => h.name)).toEqual(['lb1', 'lb2', 'pg1', 'pg2', 'pg3', 'bk1']);
    expect(inv.groups.backup).toEqual(['bk1']);
    expect(inv.groups.haproxy).toEqual(['lb1', 'lb2']);
    expect(inv.groups.postgres).toEqual(['pg1', 'pg2', 'pg3']);
    expect(inv.groups.etcd).toEqual(['pg1', 'pg2', 'pg3']);
    expect(inv.groups.all).toHaveLength(6);
    expect(inv.subnet).toBe('10.77.0.0/24');
    expect(inv.prefix).toBe(24);
    expect(inv.vip).toBe('10.77.0.100');
    expect(inv.provider).toEqual({
      type: 'lab',
      lab: { bridge: 'pgha-lab', bridgeAddress: '10.77.0.1', cachePort: 3142, stateDir: '/var/lib/pgha/labs/pgha-lab' },
    });
    for (const h of inv.hosts) {
      expect(h.ssh).toEqual({
        user: 'root',
        port: 22,
        become: false,
        keyFile: sidecarPath(inv, 'id_ed25519'),
        explicit: ['user'],
      });
    }
    expect(inv.hosts[0].ssh.keyFile).toBe(join(ROOT, 'inventory/.pgha/lab/id_ed25519'));
    expect(inv.warnings).toEqual([]);
    expect(inv.limit).toBeUndefined();
  });

  it('inventory/example-static.yml: non-root user with become, key file from ~, per-host port, group vars', () => {
    const inv = loadInventory(join(ROOT, 'inventory/example-static.yml'), catalog);
    expect(inv.provider).toEqual({ type: 'static' });
    const db3 = inv.hosts.find((h) => h.name === 'db3')!;
    expect(db3.ssh).toEqual({
      user: 'deploy',
      port: 2222,
      become: true,
      keyFile: join(homedir(), '.ssh/id_ed25519'),
      explicit: ['user', 'keyFile', 'port', 'become'],
    });
    expect(inv.hosts.find((h) => h.name === 'db1')!.ssh.port).toBe(22);
    expect(inv.groups['rack-b']).toEqual(['lb2', 'db2', 'db3']);
    // rack-b's postgres_parameters merge over the cluster's, key by key; they are db2's and db3's own
    expect(db3.vars.postgres_parameters).toEqual({
      max_connections: 300,
      shared_buffers: '2GB',
      effective_cache_size: '6GB',
    });
    const db1 = inv.hosts.find((h) => h.name === 'db1')!;
    expect(db1.vars.postgres_parameters).toMatchObject({ shared_buffers: '4GB' });
    expect(localParameters(inv, db3)).toEqual({ effective_cache_size: '6GB', shared_buffers: '2GB' });
    expect(localParameters(inv, db1)).toEqual({});
    expect(clusterParameters(inv, db3)).toMatchObject({ max_connections: 300, shared_buffers: '4GB' });
    expect(inv.warnings).toEqual([]);
  });

  it('inventory/example-proxmox.yml: API defaults, VM defaults merged per host, user from cloud-init', () => {
    const inv = loadInventory(join(ROOT, 'inventory/example-proxmox.yml'), catalog);
    const px = inv.provider.proxmox!;
    expect(inv.provider.type).toBe('proxmox');
    expect(px.api).toEqual({
      host: 'pve1.example.net',
      port: 8006,
      node: 'pve1',
      tokenId: 'pgha@pve!pgha',
      tokenSecretEnv: 'PGHA_PVE_TOKEN_SECRET',
      verifyTls: true,
      caFile: join(ROOT, 'inventory/pve-ca.pem'),
    });
    expect(px).toMatchObject({
      template: 9000,
      storage: 'local-lvm',
      bridge: 'vmbr0',
      tag: 'pgha-billing',
      maxParallelClones: 2,
      sshTimeoutSec: 300,
    });
    const lb1 = inv.hosts.find((h) => h.name === 'lb1')!;
    const db1 = inv.hosts.find((h) => h.name === 'db1')!;
    expect(lb1.proxmox).toMatchObject({
      vmid: 621,
      cores: 1,
      memory: 1024,
      diskGb: 10,
      ip: 'static',
      gateway: '198.51.100.1',
      user: 'debian',
    });
    expect(db1.proxmox).toMatchObject({ vmid: 611, cores: 2, memory: 4096, diskGb: 32, ip: 'static', user: 'debian' });
    expect(db1.proxmox!.sshPublicKey).toMatch(/^ssh-ed25519 /);
    expect(db1.ssh).toEqual({
      user: 'debian',
      port: 22,
      become: true,
      keyFile: join(homedir(), '.ssh/id_ed25519'),
      explicit: ['user', 'keyFile'],
    });
    expect(inv.warnings).toEqual([]);
  });
});

describe('defaults', () => {
  it('lab settings given explicitly are kept; state_dir is relative to the inventory', () => {
    const file = writeInventory(
      BASE.replace(
        'provider: lab',
        'provider: {type: lab, lab: {bridge: br-test, bridge_address: 10.77.0.254, cache_port: 3999, state_dir: state}}',
      ),
    );
    const inv = loadInventory(file, catalog);
    expect(inv.provider.lab).toEqual({
      bridge: 'br-test',
      bridgeAddress: '10.77.0.254',
      cachePort: 3999,
      stateDir: join(inv.dir, 'state'),
    });
  });

  it('provider defaults to lab; an explicit key_file replaces the generated lab key', () => {
    const inv = load(BASE.replace('provider: lab\n', '').replace('hosts:', 'ssh: {key_file: keys/lab}\nhosts:'));
    expect(inv.provider.type).toBe('lab');
    expect(inv.hosts[0].ssh.keyFile).toBe(join(inv.dir, 'keys/lab'));
  });

  it('static hosts without key_file use no key file (ssh-agent); root does not become', () => {
    const inv = load(BASE.replace('provider: lab', 'provider: static'));
    expect(inv.hosts[0].ssh).toEqual({ user: 'root', port: 22, become: false, explicit: [] });
  });

  it('YAML anchors and merge keys work in host specs', () => {
    const inv = load(`cluster: demo
network: {subnet: 10.77.0.0/24}
hosts:
  pg1: &pg {roles: [postgres, etcd], ssh: {port: 2200}, address: 10.77.0.11}
  pg2: {<<: *pg, address: 10.77.0.12}
  pg3: {<<: *pg, address: 10.77.0.13}
`);
    expect(inv.hosts.map((h) => [h.name, h.address, h.roles.join('+'), h.ssh.port])).toEqual([
      ['pg1', '10.77.0.11', 'etcd+postgres', 2200],
      ['pg2', '10.77.0.12', 'etcd+postgres', 2200],
      ['pg3', '10.77.0.13', 'etcd+postgres', 2200],
    ]);
  });

  it('the lab bridge name is derived from the cluster name and never longer than 15 characters', () => {
    expect(defaultBridge('demo')).toBe('pgha-demo');
    expect(defaultBridge('pgha-lab')).toBe('pgha-lab');
    const long = defaultBridge('a-very-long-cluster-name');
    expect(long.length).toBeLessThanOrEqual(15);
    expect(long).toMatch(/^pgha-a-ver-[0-9a-f]{4}$/);
    expect(defaultBridge('a-very-long-cluster-name-2')).not.toBe(long);
    expect(load(BASE.replace('demo', 'a-very-long-cluster-name')).provider.lab!.bridge).toBe(long);
  });
});

describe('warnings', () => {
  it('an even etcd member count is a warning, not an error', () => {
    const inv = load(
      BASE.replace(
        'pg3: {address: 10.77.0.13, roles: [postgres, etcd]}',
        'pg3: {address: 10.77.0.13, roles: [postgres]}',
      ),
    );
    expect(inv.warnings).toHaveLength(1);
    expect(inv.warnings[0]).toMatch(/:6: hosts: 2 etcd members \(pg1, pg2\): use an odd number, at least 3/);
  });

  it('four etcd members (even) are warned about; three are not', () => {
    expect(load(BASE).warnings).toEqual([]);
    const inv = load(`${BASE}  pg4: {address: 10.77.0.14, roles: [postgres, etcd]}\n`);
    expect(inv.warnings).toHaveLength(1);
    expect(inv.warnings[0]).toMatch(/hosts: 4 etcd members \(pg1, pg2, pg3, pg4\): use an odd number/);
  });

  it('a single etcd member, a single balancer and a single postgres host are warned about', () => {
    const inv = load(`cluster: one
network: {subnet: 10.77.0.0/24, vip: 10.77.0.100}
hosts:
  pg1: {address: 10.77.0.11, roles: [postgres, etcd, haproxy]}
`);
    expect(inv.warnings.join('\n')).toMatch(/1 etcd member \(pg1\)/);
    expect(inv.warnings.join('\n')).toMatch(/one postgres host \(pg1\): there is no replica/);
    expect(inv.warnings.join('\n')).toMatch(/one haproxy host \(pg1\): the VIP has nowhere to move/);
    expect(inv.warnings).toHaveLength(3);
  });

  it('a VIP without haproxy hosts', () => {
    const inv = load(`cluster: demo
network: {subnet: 10.77.0.0/24, vip: 10.77.0.100}
vars:
  demo_greeting: hello
  patroni_ttl: 10
hosts:
  pg1: {address: 10.77.0.11, roles: [postgres, etcd]}
  pg2: {address: 10.77.0.12, roles: [postgres, etcd]}
  pg3: {address: 10.77.0.13, roles: [postgres, etcd]}
`);
    const w = inv.warnings.join('\n');
    expect(w).toMatch(/:2: network\.vip: a VIP is set but no host has the haproxy role/);
    expect(inv.warnings).toHaveLength(1);
    expect(inv.vars.demo_greeting).toBe('hello');
  });
});
