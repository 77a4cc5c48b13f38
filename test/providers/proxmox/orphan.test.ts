// Never orphan a VM: the id is recorded before the clone, the identity comes with the clone and the tag right after
// it, destroy deletes only recorded and tagged VMs, and VMs left unfinished are reported, finished or cleaned up.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { sidecarPath } from '../../../src/inventory/types.js';
import { recordedVms } from '../../../src/providers/proxmox/state.js';
import { world, type World } from './fixture.js';

let w: World | undefined;
afterEach(async () => {
  const invalid = w?.sim.invalid ?? [];
  await w?.close();
  w = undefined;
  expect(invalid).toEqual([]);
});

const vmByName = (x: World, name: string) => [...x.sim.st.vms.values()].find((v) => v.config['name'] === name);
const ctx = (x: World, over: { check?: boolean; cleanupUnfinished?: boolean } = {}) => ({
  check: false,
  log: (l: string) => x.log.push(l),
  ...over,
});

describe('proxmox: every VM pgha clones is recorded and recognisable', () => {
  it('records each VM for the inventory, with the identity in the clone and the tag set right after it', async () => {
    w = await world();
    await w.up();
    const rec = recordedVms(w.inv);
    expect(Object.keys(rec).sort()).toEqual(['pg1', 'pg2', 'pg3']);
    for (const name of ['pg1', 'pg2', 'pg3']) {
      const vm = vmByName(w, name)!;
      expect(rec[name]).toEqual({ vmid: vm.vmid, node: 'pve1', finished: true });
      expect(vm.config['description']).toBe(`pgha: host ${name} of cluster demo, inventory ${w.inv.file}`);
      // For this VM: the clone, then the tag alone (PUT), and only then the rest of the configuration.
      const mine = w.sim.requests.filter(
        (r) => r.params['newid'] === String(vm.vmid) || r.path.includes(`/qemu/${vm.vmid}/`),
      );
      const changing = mine
        .filter((r) => r.method !== 'GET' && r.status === 200)
        .map((r) => `${r.method} ${r.path.replace(/.*\/qemu\/\d+\//, '')}`);
      expect(changing).toEqual(['POST clone', 'PUT config', 'POST config', 'PUT resize', 'POST status/start']);
      expect(mine.find((r) => r.method === 'PUT' && r.path.endsWith('/config'))!.params).toEqual({ tags: 'pgha-demo' });
    }
    const file = JSON.parse(readFileSync(sidecarPath(w.inv, 'state.json'), 'utf8')) as {
      proxmox: { vms: Record<string, unknown> };
    };
    expect(Object.keys(file.proxmox.vms).sort()).toEqual(['pg1', 'pg2', 'pg3']);
  });

  it('a creation that fails after the clone leaves a tagged, recorded, unfinished VM: destroy reports it, cleanup deletes it', async () => {
    w = await world({}, { maxParallelClones: 1 });
    w.inv.hosts = w.inv.hosts.slice(0, 1);
    w.sim.failOnce('POST', /\/qemu\/\d+\/config$/, 500, "unable to parse value of 'ipconfig0'");
    await expect(w.up()).rejects.toThrow(/unable to parse value/);
    const vm = vmByName(w, 'pg1')!;
    expect(vm.config['tags']).toBe('pgha-demo');
    expect(recordedVms(w.inv)['pg1']).toEqual({ vmid: vm.vmid, node: 'pve1', finished: false });

    const before = w.sim.requests.length;
    const report = await w.provider.destroy(w.inv, ctx(w));
    expect(report).toEqual([
      {
        host: 'pg1',
        action: 'drift',
        summary: expect.stringContaining(
          `VM ${vm.vmid} on pve1 left alone: its creation stopped before it was configured and started; pgha destroy --cleanup-unfinished deletes it`,
        ),
      },
    ]);
    expect(w.sim.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([]);
    expect(vmByName(w, 'pg1')).toBeDefined();

    const done = await w.provider.destroy(w.inv, ctx(w, { cleanupUnfinished: true }));
    expect(done.map((c) => `${c.host} ${c.action}`)).toEqual(['pg1 delete']);
    expect(vmByName(w, 'pg1')).toBeUndefined();
    expect(recordedVms(w.inv)).toEqual({});
  });

  it('a re-run finishes a VM an earlier run left unfinished instead of leaving it half configured', async () => {
    w = await world({}, { maxParallelClones: 1 });
    w.inv.hosts = w.inv.hosts.slice(0, 1);
    w.sim.failOnce('POST', /\/qemu\/\d+\/config$/, 500, "unable to parse value of 'ipconfig0'");
    await expect(w.up()).rejects.toThrow();
    const vmid = vmByName(w, 'pg1')!.vmid;
    const plan = await w.up(true);
    expect(plan).toEqual([
      {
        host: 'pg1',
        action: 'create',
        summary: `finish VM ${vmid} on pve1, left unfinished by an earlier run: configure, grow the disk, start`,
      },
    ]);
    await w.up();
    const vm = vmByName(w, 'pg1')!;
    expect(vm.vmid).toBe(vmid);
    expect(vm.status).toBe('running');
    expect(vm.config).toMatchObject({ ciuser: 'debian', ipconfig0: 'ip=127.0.0.11/8,gw=127.0.0.1' });
    expect(w.sim.requests.filter((r) => r.path.endsWith('/clone'))).toHaveLength(1);
    expect(recordedVms(w.inv)['pg1']).toEqual({ vmid, node: 'pve1', finished: true });
  });

  it('a clone that stopped before its tag is still cleaned up, by the identity in its description', async () => {
    w = await world({}, { maxParallelClones: 1 });
    w.inv.hosts = w.inv.hosts.slice(0, 1);
    w.sim.failOnce('PUT', /\/qemu\/\d+\/config$/, 500, 'connection to the cluster file system lost');
    await expect(w.up()).rejects.toThrow(/cluster file system/);
    const vm = vmByName(w, 'pg1')!;
    expect(vm.config['tags']).toBeUndefined();
    const report = await w.provider.destroy(w.inv, ctx(w));
    expect(report.map((c) => c.action)).toEqual(['drift']);
    await w.provider.destroy(w.inv, ctx(w, { cleanupUnfinished: true }));
    expect(vmByName(w, 'pg1')).toBeUndefined();
  });

  it('destroy never deletes a recorded id that now belongs to another VM', async () => {
    w = await world();
    await w.up();
    const pg2 = vmByName(w, 'pg2')!;
    // pg2 was deleted by hand in Proxmox, and someone else's VM got the same id.
    w.sim.st.vms.set(pg2.vmid, {
      vmid: pg2.vmid,
      node: 'pve1',
      status: 'running',
      createdAt: 0,
      config: { name: 'accounting' },
    });
    const done = await w.provider.destroy(w.inv, ctx(w, { cleanupUnfinished: true }));
    expect(done.map((c) => c.host).sort()).toEqual(['pg1', 'pg3']);
    expect(w.sim.st.vms.get(pg2.vmid)!.config['name']).toBe('accounting');
    expect(w.log.some((l) => l.includes(`pg2: VM ${pg2.vmid} on pve1 does not carry the tag pgha-demo`))).toBe(true);
  });
});
