// The Proxmox provider against the HTTPS simulator: create, re-run, drift, retries, lost answers, user errors, destroy.
import { afterEach, describe, expect, it } from 'vitest';
import { ProviderError, UserError } from '../../../src/util/errors.js';
import { parseInventory } from '../../../src/inventory/load.js';
import { catalog } from '../../../src/components/index.js';
import { KEY, world, type World } from './fixture.js';
import type { SimVmInfo } from './sim/server.js';

let w: World | undefined;
afterEach(async () => {
  // Every request the provider sent must be valid against the PVE API schema subset.
  const invalid = w?.sim.invalid ?? [];
  await w?.close();
  w = undefined;
  expect(invalid).toEqual([]);
});

const vmByName = (x: World, name: string) => [...x.sim.st.vms.values()].find((v) => v.config['name'] === name);
const clones = (x: World) => x.sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/clone'));

describe('proxmox provider: up', () => {
  it('creates every VM from scratch: clone, cloud-init, sizing, start, SSH answers', async () => {
    w = await world();
    const started: SimVmInfo[] = [];
    let running = 0;
    let maxRunning = 0;
    w.sim.hooks.onStart = (vm) => void started.push(vm);
    const sim = w.sim;
    sim.onRequest = (r) => {
      if (r.path.endsWith('/clone')) {
        running = [...sim.st.tasks.values()].filter((t) => t.type === 'qmclone' && t.status === 'running').length + 1;
        maxRunning = Math.max(maxRunning, running);
      }
    };
    const t0 = Date.now();
    const changes = await w.up();
    const ms = Date.now() - t0;
    expect(changes.map((c) => `${c.host} ${c.action}`)).toEqual(['pg1 create', 'pg2 create', 'pg3 create']);
    const ids = new Set<number>();
    for (const [i, name] of ['pg1', 'pg2', 'pg3'].entries()) {
      const vm = vmByName(w, name)!;
      expect(vm.status).toBe('running');
      ids.add(vm.vmid);
      expect(vm.config).toMatchObject({
        cores: '2',
        memory: '2048',
        tags: 'pgha-demo',
        ciuser: 'debian',
        nameserver: '10.77.0.1',
        ipconfig0: `ip=127.0.0.1${i + 1}/8,gw=127.0.0.1`,
      });
      expect(vm.config['scsi0']).toMatch(new RegExp(`^local-lvm:vm-${vm.vmid}-disk-0,.*size=20G`));
      expect(vm.config['lock']).toBeUndefined();
      expect(decodeURIComponent(vm.config['sshkeys']!)).toBe(KEY); // encoded by pgha, form-encoded again on the wire
    }
    expect(ids.size).toBe(3);
    expect(started.map((s) => s.name).sort()).toEqual(['pg1', 'pg2', 'pg3']);
    expect(started[0]!.cloudInit.sshkeys).toEqual([KEY]);
    expect(w.listeners.every((l) => l.accepted() >= 1)).toBe(true);
    expect(maxRunning).toBeLessThanOrEqual(2); // maxParallelClones
    expect(clones(w)).toHaveLength(3);
    console.log(`proxmox sim: 3 VMs created in ${ms} ms, ${w.sim.requests.length} requests`);
  });

  it('check mode reports what it would create and changes nothing', async () => {
    w = await world();
    const changes = await w.up(true);
    expect(changes.map((c) => c.action)).toEqual(['create', 'create', 'create']);
    expect(changes[0]!.summary).toContain('clone template 9000 on pve1');
    expect(w.sim.changes()).toEqual([]);
    expect(w.sim.st.vms.size).toBe(1);
  });

  it('a re-run with everything present only reads (GET) and reports nothing', async () => {
    w = await world();
    await w.up();
    const before = w.sim.requests.length;
    expect(await w.up()).toEqual([]);
    const rerun = w.sim.requests.slice(before);
    expect(rerun.length).toBeGreaterThan(0);
    expect(rerun.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('finds fresh VMs that the resource list shows without a name yet (before the stats refresh)', async () => {
    w = await world({ rrdDelayMs: 60_000 });
    await w.up();
    const res = w.sim.requests.length;
    expect(await w.up()).toEqual([]);
    const rerun = w.sim.requests.slice(res);
    expect(rerun.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(rerun.filter((r) => /\/qemu\/\d+\/config$/.test(r.path)).length).toBeGreaterThanOrEqual(3);
  });

  it('reports drift and never changes the VM', async () => {
    w = await world();
    await w.up();
    const vm = vmByName(w, 'pg2')!;
    vm.config['cores'] = '4';
    vm.config['scsi0'] = vm.config['scsi0']!.replace('size=20G', 'size=16G');
    vm.config['tags'] = 'other';
    const before = w.sim.requests.length;
    for (const check of [true, false]) {
      const changes = await w.up(check);
      expect(changes).toHaveLength(1);
      expect(changes[0]).toMatchObject({ host: 'pg2', action: 'drift' });
      expect(changes[0]!.summary).toContain('cores: 4 → 2');
      expect(changes[0]!.summary).toContain('disk scsi0: 16 GiB → 20 GiB');
      expect(changes[0]!.summary).toContain('lacks pgha-demo');
    }
    expect(w.sim.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([]);
    expect(vm.config['cores']).toBe('4');
  });

  it('a template disk larger than disk is kept, not grown, and never reported as drift', async () => {
    w = await world({ templates: [{ vmid: 9000, node: 'pve1', name: 'big', storage: 'local-lvm', diskSize: '40G' }] });
    await w.up();
    expect(w.sim.requests.filter((r) => r.path.endsWith('/resize'))).toEqual([]);
    expect(vmByName(w, 'pg1')!.config['scsi0']).toContain('size=40G');
    expect(w.log.some((l) => /pg1: the template disk \(40 GiB\) is larger than diskGb 20: kept/.test(l))).toBe(true);
    expect(await w.up(true)).toEqual([]);
    expect(await w.up()).toEqual([]);
  });

  it('verify_tls: false works and says on every run that it is off', async () => {
    w = await world({}, {});
    const api = w.inv.provider.proxmox!.api;
    api.verifyTls = false;
    delete api.caFile;
    await w.up();
    const warning = /^warning: TLS verification of the Proxmox API at 127\.0\.0\.1 is off \(verify_tls: false\)/;
    for (const run of [
      () => w!.provider.destroy(w!.inv, { check: true, log: (l) => w!.log.push(l) }),
      () => w!.provider.down(w!.inv, { check: true, log: (l) => w!.log.push(l) }),
    ]) {
      const n = w.log.filter((l) => warning.test(l)).length;
      await run();
      expect(w.log.filter((l) => warning.test(l))).toHaveLength(n + 1);
    }
    // up and plan show it among the inventory's warnings, which the CLI prints on every run.
    const inv = parseInventory(
      '/tmp/tls.yml',
      `cluster: demo
provider: {type: proxmox, proxmox: {api: {host: pve1.example.net, node: pve1, token_id: 'a@pve!b', verify_tls: false}, template: 9000, storage: local-lvm, bridge: vmbr0}}
network: {subnet: 10.1.0.0/24}
hosts: {pg1: {address: 10.1.0.11, roles: [etcd, postgres]}}
`,
      catalog,
    );
    expect(inv.warnings).toContainEqual(
      expect.stringMatching(
        /^\/tmp\/tls\.yml:2: provider\.proxmox\.api\.verify_tls: TLS verification of the Proxmox API at pve1\.example\.net is off/,
      ),
    );
  });

  it('starts a stopped VM again', async () => {
    w = await world();
    await w.up();
    vmByName(w, 'pg3')!.status = 'stopped';
    const changes = await w.up();
    expect(changes).toEqual([{ host: 'pg3', action: 'start', summary: expect.stringContaining('start VM') }]);
    expect(vmByName(w, 'pg3')!.status).toBe('running');
  });

  it('retries after a lock timeout and then succeeds', async () => {
    w = await world();
    w.sim.failOnce(
      'POST',
      /\/qemu\/\d+\/config$/,
      500,
      "can't lock file '/var/lock/qemu-server/lock-100.conf' - got timeout",
    );
    await w.up();
    const posts = w.sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/config'));
    expect(posts).toHaveLength(4);
    expect(posts.filter((r) => r.status === 500)).toHaveLength(1);
    expect(w.log.some((l) => /transient failure .*got timeout.*retry 1/.test(l))).toBe(true);
    expect(['pg1', 'pg2', 'pg3'].every((n) => vmByName(w!, n)?.status === 'running')).toBe(true);
  });

  it('a clone whose answer was lost (and re-sent by proxmox-api) is recognised as ours', async () => {
    w = await world({}, { maxParallelClones: 1 });
    w.sim.dropResponseOnce('POST', /\/clone$/);
    await w.up();
    const c = clones(w);
    expect(c).toHaveLength(4);
    expect(c[0]!.params['newid']).toEqual(c[1]!.params['newid']); // the automatic re-send of the same request
    expect(w.sim.st.vms.size).toBe(4); // template + 3: no duplicate
    expect(w.log.some((l) => /the clone went through/.test(l))).toBe(true);
  });

  it('allocates another id when a concurrent client took the one nextid gave', async () => {
    w = await world({}, { maxParallelClones: 1 });
    const sim = w.sim;
    let raced = false;
    sim.onRequest = (r) => {
      if (!raced && r.path.endsWith('/clone')) {
        raced = true;
        const id = Number(r.params['newid']);
        sim.st.vms.set(id, {
          vmid: id,
          node: 'pve1',
          status: 'stopped',
          createdAt: 0,
          config: { name: 'someone-else', cores: '1' },
        });
      }
    };
    await w.up();
    const other = [...sim.st.vms.values()].find((v) => v.config['name'] === 'someone-else')!;
    expect(other.config).toEqual({ name: 'someone-else', cores: '1' });
    expect(['pg1', 'pg2', 'pg3'].map((n) => vmByName(w!, n)!.vmid)).not.toContain(other.vmid);
    expect(w.log.some((l) => /taken by VM 'someone-else'.*allocating again/.test(l))).toBe(true);
  });

  it('learns a DHCP address from the guest agent and writes it into host.address', async () => {
    w = await world();
    const h = w.inv.hosts[0]!;
    h.proxmox!.ip = 'dhcp';
    h.address = '0.0.0.0';
    const sim = w.sim;
    sim.hooks.onStart = (vm) => {
      if (vm.cloudInit.ipconfig0 !== 'ip=dhcp') return;
      setTimeout(() => {
        const v = sim.st.vms.get(vm.vmid)!;
        const mac = /=([0-9A-F:]{17})/i.exec(v.config['net0']!)![1]!.toLowerCase();
        v.agent = [
          { name: 'lo', 'ip-addresses': [{ 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', prefix: 8 }] },
          {
            name: 'eth0',
            'hardware-address': mac,
            'ip-addresses': [
              { 'ip-address': 'fe80::1', 'ip-address-type': 'ipv6', prefix: 64 },
              { 'ip-address': '127.0.0.11', 'ip-address-type': 'ipv4', prefix: 8 },
            ],
          },
        ];
      }, 150);
      return { interfaces: undefined };
    };
    await w.up();
    expect(h.address).toBe('127.0.0.11');
    expect(vmByName(w, 'pg1')!.config['ipconfig0']).toBe('ip=dhcp');
    h.address = '0.0.0.0';
    const before = w.sim.requests.length;
    expect(await w.up(true)).toEqual([]); // check mode learns the address too, with GETs only
    expect(h.address).toBe('127.0.0.11');
    expect(w.sim.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([]);
    expect(w.sim.requests.filter((r) => r.path.endsWith('network-get-interfaces')).length).toBeGreaterThan(1);
  });
});

describe('proxmox provider: errors a user will hit', () => {
  const fail = async (x: World) =>
    x.up().then(
      () => {
        throw new Error('up succeeded');
      },
      (e: Error) => e,
    );

  it('names the missing privilege and path, with the pveum fix', async () => {
    w = await world();
    const all = w.sim.st.acl['/']!;
    w.sim.setAcl({ '/': all, '/vms/9000': all.filter((p) => p !== 'VM.Clone') });
    const e = await fail(w);
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toContain('lacks VM.Clone on /vms/9000');
    expect(w.sim.changes()).toEqual([]);
    expect((e as UserError).hint).toContain("pveum acl modify /vms/9000 --tokens 'pgha@pve!provision'");
  });

  it('names SDN.Use on the bridge (PVE 8+ clone check)', async () => {
    w = await world();
    w.sim.setAcl({ '/': w.sim.st.acl['/']!, '/sdn': [] });
    const e = await fail(w);
    expect(e.message).toContain('lacks SDN.Use on /sdn/zones/localnetwork/vmbr0');
    expect(w.sim.changes()).toEqual([]);
  });

  it('says the template lives on another node on storage it cannot be cloned from', async () => {
    w = await world({
      nodes: ['pve1', 'pve2'],
      templates: [{ vmid: 9000, node: 'pve2', name: 'tpl', storage: 'local-lvm' }],
    });
    const e = await fail(w);
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toContain(
      'provider.proxmox.template: the template 9000 on pve2 has disks on storage that is not shared (local-lvm): it cannot be cloned to node pve1',
    );
    expect(w.sim.changes()).toEqual([]);
  });

  it('says the storage is not available on the node', async () => {
    w = await world({ storages: { 'local-lvm': ['pve1'], ceph: ['pve2'] } }, { storage: 'ceph' });
    const e = await fail(w);
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toContain("storage 'ceph' is not available on node 'pve1'");
  });

  it('refuses a fixed vmid that is taken', async () => {
    w = await world();
    w.inv.hosts[1]!.proxmox!.vmid = 9000;
    const e = await fail(w);
    expect(e.message).toContain("the VM id 9000 from the inventory is already used by template 'debian12-ci'");
    expect(w.sim.changes()).toEqual([]);
  });

  it('gives up on SSH after sshTimeoutSec with what to check', async () => {
    w = await world({}, { sshTimeoutSec: 1 });
    w.listeners[2]!.server.close();
    const e = await fail(w);
    expect(e).toBeInstanceOf(ProviderError);
    expect(e.message).toBe(`pg3: no SSH answer on 127.0.0.13:${w.listeners[2]!.port} after 1 s`);
  });

  it('attaches the task log when a worker fails', async () => {
    w = await world();
    w.sim.hooks.onStart = (vm) => {
      if (vm.name === 'pg2') throw new Error('start failed: QEMU exited with code 1');
    };
    const e = await fail(w);
    expect(e).toBeInstanceOf(ProviderError);
    expect(e.message).toContain('Proxmox task failed: start failed: QEMU exited with code 1');
    expect((e as ProviderError).detail).toContain('TASK ERROR: start failed');
  });

  it('rejects a wrong secret, a missing secret variable and an untrusted certificate', async () => {
    w = await world();
    process.env['PGHA_TEST_PVE_SECRET'] = '11111111-2222-3333-4444-555555555555';
    expect((await fail(w)).message).toContain(
      'Proxmox rejected the API token pgha@pve!provision (Authentication failed!)',
    );
    delete process.env['PGHA_TEST_PVE_SECRET'];
    const missing = await fail(w);
    expect(missing).toBeInstanceOf(UserError);
    expect((missing as UserError).hint).toMatch(/^export PGHA_TEST_PVE_SECRET=/);
    process.env['PGHA_TEST_PVE_SECRET'] = w.sim.secret;
    delete w.inv.provider.proxmox!.api.caFile;
    expect((await fail(w)).message).toMatch(/TLS certificate of 127\.0\.0\.1:\d+ is not trusted/);
  });
});

describe('proxmox provider: down, destroy, status', () => {
  it('destroys only the VMs this inventory recorded and tagged, with purge', async () => {
    w = await world();
    await w.up();
    vmByName(w, 'pg3')!.config['tags'] = 'someone-else';
    w.sim.st.vms.set(555, {
      vmid: 555,
      node: 'pve1',
      status: 'running',
      createdAt: 0,
      config: { name: 'other', tags: 'pgha-demo' },
    });
    const ctx = { check: true, log: (l: string) => w!.log.push(l) };
    const planned = await w.provider.destroy(w.inv, ctx);
    expect(planned.map((c) => `${c.host} ${c.action}`)).toEqual(['pg1 delete', 'pg2 delete', 'other drift']);
    expect(planned[2]!.summary).toContain(
      'VM 555 on pve1 left alone: it carries the tag pgha-demo but pgha has no record of making it',
    );
    expect(vmByName(w, 'pg1')).toBeDefined();
    const done = await w.provider.destroy(w.inv, { ...ctx, check: false });
    expect(done).toEqual(planned);
    expect(vmByName(w, 'pg1')).toBeUndefined();
    expect(vmByName(w, 'pg2')).toBeUndefined();
    expect(vmByName(w, 'pg3')).toBeDefined();
    expect(w.sim.st.vms.has(555) && w.sim.st.vms.has(9000)).toBe(true);
    const deletes = w.sim.requests.filter((r) => r.method === 'DELETE');
    expect(deletes).toHaveLength(2);
    expect(deletes.every((d) => d.params['purge'] === '1')).toBe(true);
    expect(w.log.some((l) => /pg3: VM \d+ on pve1 does not carry the tag pgha-demo .*left alone/.test(l))).toBe(true);
    expect((await w.provider.destroy(w.inv, { ...ctx, check: false })).map((c) => c.action)).toEqual(['drift']);
  });

  it('down shuts the VMs down and status reports them', async () => {
    w = await world();
    await w.up();
    expect((await w.provider.status(w.inv)).map((s) => s.state)).toEqual(['running', 'running', 'running']);
    const ch = await w.provider.down(w.inv, { check: false, log: () => {} });
    expect(ch.map((c) => c.action)).toEqual(['change', 'change', 'change']);
    expect((await w.provider.status(w.inv)).map((s) => s.state)).toEqual(['stopped', 'stopped', 'stopped']);
  });
});
