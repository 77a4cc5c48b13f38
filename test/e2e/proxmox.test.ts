// The Proxmox provider end to end: `pgha up` with provider proxmox against the API simulator, whose started VMs are
// real lab machines (booted with the address, the user and the SSH keys from their cloud-init settings). The provider
// clones, configures, resizes and starts the VMs through the API, then the whole cluster playbook converges on them
// over SSH as the cloud-init user `debian`, through sudo (as on Debian cloud images, root has no key).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { connect, expectOk, inventory, pgha, sh, tempInventory } from './helpers.js';
import { ensurePsql, psql } from './psql.js';
import { PveSim, type SimVmInfo } from '../providers/proxmox/sim/server.js';
import { labProvider, labResourcesLeft, removeHost, startHost, stopHost } from '../../src/providers/lab/index.js';
import { sidecarPath, type Host, type Inventory } from '../../src/inventory/types.js';
import { hostPaths } from '../../src/providers/lab/render.js';
import { SshTransport } from '../../src/engine/transport.js';
import { KnownHosts } from '../../src/engine/knownhosts.js';

const SUBNET = '10.231.90';
const GATEWAY = `${SUBNET}.1`;
const VIP = `${SUBNET}.100`;
const TAG = 'pgha-e2e-pve';
const SECRET_ENV = 'PGHA_E2E_PVE_TOKEN_SECRET';
const NAMES = ['lb1', 'lb2', 'pg1', 'pg2', 'pg3'];
const CIUSER = 'debian';
// The least-privilege role of README.md (section "Proxmox VE"), granted on /vms, the storage and the SDN zone only (nothing on /).
const ROLE = [
  'VM.Allocate',
  'VM.Clone',
  'VM.Audit',
  'VM.Config.Cloudinit',
  'VM.Config.Network',
  'VM.Config.Options',
  'VM.Config.Disk',
  'VM.Config.CPU',
  'VM.Config.Memory',
  'VM.PowerMgmt',
  'VM.GuestAgent.Audit',
  'Datastore.AllocateSpace',
  'Datastore.Audit',
  'SDN.Use',
];

// Three nodes: the template 9000 lives on pve1 on shared storage (ceph; pve3's VMs are cloned from it with a target
// node), pve2 has a template of its own on its local storage.
const NODES = ['pve1', 'pve2', 'pve3'];
const sim = new PveSim({
  cloneMs: 2000,
  rrdDelayMs: 10_000, // fresh VMs show up nameless in /cluster/resources for a while, as before pvestatd's refresh
  nodes: NODES,
  storages: { 'local-lvm': NODES, ceph: NODES },
  storageInfo: { ceph: { shared: true } },
  templates: [
    { vmid: 9000, node: 'pve1', name: 'debian12-cloudinit', storage: 'ceph', diskSize: '2G' },
    { vmid: 9001, node: 'pve2', name: 'debian12-cloudinit-pve2', storage: 'local-lvm', diskSize: '2G' },
  ],
});
let file = '';
let dir = '';
let publicKey = '';
const env = () => ({ [SECRET_ENV]: sim.secret });

// The "hypervisor": a lab of its own whose bridge address is the VMs' gateway. Its hosts are added as VMs start.
let hv: Inventory;
const booted: { vm: SimVmInfo; seconds: number; at: number }[] = [];
const stopped: string[] = [];
const deleted: string[] = [];
let firstRequestAt = 0;

function labHostFor(vm: SimVmInfo): Host {
  const m = /^ip=(\d+\.\d+\.\d+\.\d+)\/(\d+),gw=(\d+\.\d+\.\d+\.\d+)$/.exec(vm.cloudInit.ipconfig0 ?? '');
  if (!m)
    throw new Error(
      `VM ${vm.vmid} (${vm.name}): ipconfig0 "${vm.cloudInit.ipconfig0}" is no static address with a gateway`,
    );
  if (m[3] !== GATEWAY || m[2] !== '24')
    throw new Error(`VM ${vm.vmid} (${vm.name}): gateway ${m[3]}/${m[2]} is not the lab bridge ${GATEWAY}/24`);
  const user = vm.cloudInit.ciuser ?? 'root';
  return {
    name: vm.name,
    address: m[1]!,
    roles: [],
    groups: [],
    vars: {},
    ssh: { user, port: 22, become: user !== 'root' },
  };
}

/** The lab inventory seen by one VM: only that host, so its /etc/hosts knows itself alone (as a cloud-init VM). */
function only(name: string): Inventory {
  return { ...hv, hosts: hv.hosts.filter((h) => h.name === name) };
}

function wireHypervisor(): void {
  sim.onRequest = () => (firstRequestAt ||= Date.now());
  sim.hooks.onStart = async (vm) => {
    const t0 = Date.now();
    const host = labHostFor(vm);
    hv.hosts = [...hv.hosts.filter((h) => h.name !== host.name), host];
    await startHost(only(vm.name), vm.name, { authorizedKeys: vm.cloudInit.sshkeys, user: host.ssh.user });
    booted.push({ vm, seconds: (Date.now() - t0) / 1000, at: Date.now() });
  };
  sim.hooks.onStop = async (vm) => {
    await stopHost(only(vm.name), vm.name);
    stopped.push(vm.name);
  };
  sim.hooks.onDelete = async (vm) => {
    if (hv.hosts.some((h) => h.name === vm.name)) await removeHost(only(vm.name), vm.name);
    deleted.push(vm.name);
  };
}

const guests = () => [...sim.st.vms.values()].filter((v) => v.config['template'] !== '1');
const requestsOf = (method: string, tail: RegExp, from = 0) =>
  sim.requests.slice(from).filter((r) => r.method === method && tail.test(r.path));
const quiet = { check: false, log: () => undefined };

beforeAll(async () => {
  ensurePsql();
  await sim.start();
  // A token with the documented minimal role, on the paths the docs grant it.
  sim.setAcl({ '/vms': ROLE, '/storage/local-lvm': ROLE, '/storage/ceph': ROLE, '/sdn/zones/localnetwork': ROLE });
  file = tempInventory('proxmox.yml');
  dir = dirname(file);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'pgha-e2e-pve', '-f', join(dir, 'id_ed25519')]);
  publicKey = readFileSync(join(dir, 'id_ed25519.pub'), 'utf8').trim();
  copyFileSync(sim.caFile, join(dir, 'pve-ca.pem'));
  const text = readFileSync(file, 'utf8')
    .replace('@SIM_PORT@', String(sim.port))
    .replace('@TOKEN_ID@', `'${sim.tokenId}'`)
    .replace('@SSH_PUBLIC_KEY@', publicKey);
  writeFileSync(file, text);
  hv = {
    file: join(dir, 'hypervisor.yml'),
    dir,
    cluster: 'e2e-pve-hv',
    subnet: `${SUBNET}.0/24`,
    prefix: 24,
    provider: {
      type: 'lab',
      lab: { bridge: 'pgha-e2e-pve', bridgeAddress: GATEWAY, cachePort: 3142, stateDir: join(dir, 'hypervisor') },
    },
    hosts: [],
    groups: { all: [] },
    vars: {},
    warnings: [],
  };
  // Bridge, package cache and base image; no machine yet (they boot when their VMs start).
  await labProvider.up(hv, quiet);
  wireHypervisor();
});

afterAll(async () => {
  try {
    if (guests().length) await pgha(['destroy', '-i', file, '--yes'], { env: env() });
  } finally {
    await sim.close();
    for (const h of hv?.hosts ?? []) await removeHost(only(h.name), h.name).catch(() => undefined);
    if (hv) await labProvider.destroy(hv, quiet);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

describe('pgha up with provider proxmox: simulator VMs are lab machines', () => {
  it('creates the five VMs through the API and converges the whole cluster on them', async () => {
    const r = await pgha(['up', '-i', file], { env: env() });
    expectOk(r, 'pgha up (proxmox)');
    expect(sim.invalid).toEqual([]);
    expect(r.json.provider.map((c: { host: string; action: string }) => `${c.host} ${c.action}`).sort()).toEqual(
      NAMES.map((n) => `${n} create`),
    );
    // The VMs, as the inventory wants them.
    const inv = await inventory(file);
    const vms = guests();
    expect(vms.map((v) => v.config['name']).sort()).toEqual(NAMES);
    for (const vm of vms) {
      const h = inv.hosts.find((x) => x.name === vm.config['name'])!;
      expect(vm.status).toBe('running');
      expect(vm.config['tags']).toBe(TAG);
      expect(vm.config['ciuser']).toBe(CIUSER);
      expect(h.ssh).toMatchObject({ user: CIUSER, become: true }); // from provider.proxmox.defaults.user
      expect(vm.config['ipconfig0']).toBe(`ip=${h.address}/24,gw=${GATEWAY}`);
      expect(vm.config['cores']).toBe(h.roles.includes('haproxy') ? '1' : '2');
      expect(vm.config['scsi0']).toMatch(
        new RegExp(`^${vm.node === 'pve2' ? 'local-lvm' : 'ceph'}:vm-${vm.vmid}-disk-0,.*size=8G`),
      );
      expect(vm.config['lock']).toBeUndefined();
    }
    // Clone, configure, resize and start once per VM; each started VM booted one lab machine with the cloud-init key.
    // Spread over the three nodes: the etcd/Patroni members on three different nodes, the balancers on two.
    const nodeOf = (n: string) => vms.find((v) => v.config['name'] === n)!.node;
    expect(new Set(['pg1', 'pg2', 'pg3'].map(nodeOf)).size).toBe(3);
    expect(nodeOf('lb1')).not.toBe(nodeOf('lb2'));
    expect(r.json.provider.every((c: { summary: string }) => /^on node pve\d \(no other /.test(c.summary))).toBe(true);
    const clonesFrom = (tpl: number) => requestsOf('POST', new RegExp(`/qemu/${tpl}/clone$`));
    expect(clonesFrom(9000).length + clonesFrom(9001).length).toBe(5);
    expect(clonesFrom(9001).map((q) => q.path)).toEqual(clonesFrom(9001).map(() => '/nodes/pve2/qemu/9001/clone'));
    expect(
      clonesFrom(9000)
        .filter((q) => q.params['target'] === 'pve3')
        .map((q) => q.params['name']),
    ).toEqual(vms.filter((v) => v.node === 'pve3').map((v) => v.config['name']));
    expect(requestsOf('POST', /\/qemu\/\d+\/config$/)).toHaveLength(5);
    expect(requestsOf('PUT', /\/qemu\/\d+\/resize$/)).toHaveLength(5);
    expect(requestsOf('POST', /\/qemu\/\d+\/status\/start$/)).toHaveLength(5);
    expect(booted.map((b) => b.vm.name).sort()).toEqual(NAMES);
    for (const b of booted) expect(b.vm.cloudInit.sshkeys).toEqual([publicKey]);
    // As cloud-init leaves a Debian cloud image: the key is the user's (0700/0600, its own), root has none, sudo without
    // a password; root cannot log in with the key, the user can and becomes root through sudo -n.
    for (const name of NAMES) {
      const root = hostPaths(join(dir, 'hypervisor'), name).root;
      expect(readFileSync(`${root}/root/.ssh/authorized_keys`, 'utf8').trim()).toBe('');
      const account = readFileSync(`${root}/etc/passwd`, 'utf8')
        .split('\n')
        .find((l) => l.startsWith(`${CIUSER}:`))!
        .split(':');
      expect(account[6]).toBe('/bin/bash');
      const ak = `${root}${account[5]}/.ssh/authorized_keys`;
      expect(readFileSync(ak, 'utf8')).toContain(publicKey);
      for (const [p, mode] of [
        [ak, 0o600],
        [dirname(ak), 0o700],
      ] as const) {
        const st = statSync(p);
        expect([p, st.mode & 0o777, st.uid, st.gid]).toEqual([p, mode, Number(account[2]), Number(account[3])]);
      }
      const sudoers = statSync(`${root}/etc/sudoers.d/90-cloud-init-users`);
      expect(sudoers.mode & 0o777).toBe(0o440);
      expect(readFileSync(`${root}/etc/sudoers.d/90-cloud-init-users`, 'utf8')).toContain(
        `${CIUSER} ALL=(ALL) NOPASSWD:ALL`,
      );
    }
    const kh0 = new KnownHosts(sidecarPath(inv, 'known_hosts'));
    const asRoot = { ...inv.hosts[0]!, ssh: { ...inv.hosts[0]!.ssh, user: 'root', become: false } };
    await expect(SshTransport.connect(asRoot, kh0)).rejects.toThrow(/refused/);
    const conns = await connect(inv);
    try {
      for (const [name, t] of conns) {
        const [who, via, groups] = (await sh(t, 'id -un; echo "$SUDO_USER"; id -nG "$SUDO_USER"')).split('\n');
        expect([name, who, via, groups!.split(' ').includes('sudo')]).toEqual([name, 'root', CIUSER, true]);
      }
    } finally {
      for (const t of conns.values()) await t.close();
    }
    // pgha logged in with the inventory's key: the host keys it recorded are those of the lab machines.
    const kh = readFileSync(sidecarPath(inv, 'known_hosts'), 'utf8');
    for (const h of inv.hosts) expect(kh).toContain(`${h.address} ssh-ed25519 `);
    const vmsReady = (Math.max(...booted.map((b) => b.at)) - firstRequestAt) / 1000;
    console.log(
      `proxmox e2e: first API request to the 5th VM booted (SSH up): ${vmsReady.toFixed(1)} s; ` +
        `boot per VM ${booted.map((b) => `${b.vm.name} ${b.seconds.toFixed(1)} s`).join(', ')}; whole pgha up ${r.seconds.toFixed(1)} s; ` +
        `${sim.requests.length} API requests`,
    );

    // The cluster answers through the VIP: 5001 primary, 5002 a replica.
    const password = (parse(readFileSync(sidecarPath(inv, 'secrets.yml'), 'utf8')) as Record<string, string>)
      .postgres_superuser_password;
    const w = await psql(
      VIP,
      5001,
      password,
      'create table if not exists pve_probe(id int primary key); insert into pve_probe values (1) on conflict do nothing; select pg_is_in_recovery()',
    );
    expect(w.err).toBe('');
    expect(w.out.split('\n').pop()).toBe('f');
    const rd = await psql(VIP, 5002, password, 'select pg_is_in_recovery(), count(*) from pve_probe');
    expect(rd.out).toBe('t|1');
    const v = await pgha(['verify', '-i', file], { env: env() });
    expectOk(v, 'pgha verify (proxmox)');
  });

  it('a second pgha up creates no VM, changes nothing and sends only GET requests', async () => {
    const from = sim.requests.length;
    const r = await pgha(['up', '-i', file], { env: env() });
    expectOk(r, 'pgha up (proxmox, again)');
    expect(r.json.provider).toEqual([]);
    expect(r.json.changes).toEqual([]);
    expect(r.json.totals.restarted).toEqual([]);
    const seen = sim.requests.slice(from);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((q) => q.method !== 'GET')).toEqual([]);
    expect(guests()).toHaveLength(5);
    expect(booted).toHaveLength(5);
    expect(sim.invalid).toEqual([]);
    console.log(`proxmox e2e: no-op pgha up ${r.seconds.toFixed(1)} s, ${seen.length} API requests (all GET)`);
  });

  it('pgha plan shows nothing to create or change', async () => {
    const from = sim.requests.length;
    const r = await pgha(['plan', '-i', file], { env: env() });
    expectOk(r, 'pgha plan (proxmox)');
    expect(r.json.check).toBe(true);
    expect(r.json.provider).toEqual([]);
    expect(r.json.changes).toEqual([]);
    expect(sim.requests.slice(from).filter((q) => q.method !== 'GET')).toEqual([]);
  });

  it('pgha destroy deletes the VMs (purge) and their lab machines', async () => {
    const from = sim.requests.length;
    const r = await pgha(['destroy', '-i', file, '--yes'], { env: env() });
    expectOk(r, 'pgha destroy (proxmox)');
    expect(r.json.changes.map((c: { host: string; action: string }) => `${c.host} ${c.action}`).sort()).toEqual(
      NAMES.map((n) => `${n} delete`),
    );
    expect(guests()).toEqual([]);
    expect(sim.st.vms.has(9000) && sim.st.vms.has(9001)).toBe(true); // the templates stay
    const deletes = requestsOf('DELETE', /\/qemu\/\d+$/, from);
    expect(deletes).toHaveLength(5);
    for (const d of deletes) expect(d.params['purge']).toBe('1');
    expect(stopped.sort()).toEqual(NAMES);
    expect(deleted.sort()).toEqual(NAMES);
    expect(sim.invalid).toEqual([]);
    // Only the hypervisor's own bridge and cache remain.
    const left = await labResourcesLeft(hv);
    expect(left.filter((l) => !/^bridge pgha-e2e-pve$|^process \d+ apt-cacher-ng$/.test(l))).toEqual([]);
    const inv = await inventory(file);
    expect(readFileSync(sidecarPath(inv, 'known_hosts'), 'utf8').trim()).toBe('');
  });

  it('the hypervisor lab leaves nothing behind', async () => {
    await labProvider.destroy(hv, quiet);
    expect(await labResourcesLeft(hv)).toEqual([]);
  });
});
