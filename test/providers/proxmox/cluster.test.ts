// Several Proxmox nodes: the members of each role are spread over the nodes, the template is cloned with a target
// node from shared storage or a node's own template is used, an offline node is skipped when the spread holds and
// refused when it cannot, pins are kept, and status names each VM's node.
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/util/errors.js';
import type { Host, ProxmoxSettings, Role } from '../../../src/inventory/types.js';
import { createProxmoxProvider } from '../../../src/providers/proxmox/index.js';
import { place } from '../../../src/providers/proxmox/place.js';
import type { ProviderChange } from '../../../src/providers/types.js';
import { host, inventory, settings, sshListener } from './fixture.js';
import { PveSim } from './sim/server.js';

const NODES = ['pve1', 'pve2', 'pve3'];

/** pve1..3; local-lvm on each node, ceph shared by all; template 9000 on ceph (pve1), and pve2's own template on local-lvm. */
function clusterSim(): PveSim {
  return new PveSim({
    timeScale: 0.05,
    cloneMs: 400,
    taskMs: 40,
    nodes: NODES,
    storages: { 'local-lvm': NODES, ceph: NODES },
    storageInfo: { ceph: { shared: true } },
    templates: [
      { vmid: 9000, node: 'pve1', name: 'debian12-ci', storage: 'ceph' },
      { vmid: 9002, node: 'pve2', name: 'debian12-ci-local', storage: 'local-lvm' },
    ],
  });
}

interface C {
  sim: PveSim;
  up(check?: boolean): Promise<ProviderChange[]>;
  provider: ReturnType<typeof createProxmoxProvider>;
  inv: ReturnType<typeof inventory>;
  log: string[];
  close(): Promise<void>;
}
let cur: C | undefined;
afterEach(async () => {
  const invalid = cur?.sim.invalid ?? [];
  await cur?.close();
  cur = undefined;
  expect(invalid).toEqual([]);
});

const FIVE: [string, Role[]][] = [
  ['lb1', ['haproxy']],
  ['lb2', ['haproxy']],
  ['pg1', ['etcd', 'postgres']],
  ['pg2', ['etcd', 'postgres']],
  ['pg3', ['etcd', 'postgres']],
];

async function cluster(over: Partial<ProxmoxSettings> = {}, hosts = FIVE, setup?: (s: PveSim) => void): Promise<C> {
  const sim = await clusterSim().start();
  setup?.(sim);
  process.env['PGHA_TEST_PVE_SECRET'] = sim.secret;
  const listeners = await Promise.all(hosts.map((_, i) => sshListener(`127.0.0.${21 + i}`)));
  const s = settings(sim, {
    storage: 'ceph',
    nodes: [{ name: 'pve1' }, { name: 'pve2', template: 'debian12-ci-local', storage: 'local-lvm' }, { name: 'pve3' }],
    ...over,
  });
  const list: Host[] = hosts.map(([name, roles], i) => ({
    ...host(name, `127.0.0.${21 + i}`, listeners[i]!.port),
    roles,
  }));
  const inv = inventory(s, list);
  const log: string[] = [];
  const provider = createProxmoxProvider({ client: { backoffMs: 5, pollMs: 5 } });
  cur = {
    sim,
    inv,
    log,
    provider,
    up: (check = false) => provider.up(inv, { check, log: (l) => log.push(l) }),
    close: async () => {
      await sim.close();
      for (const l of listeners) l.server.close();
    },
  };
  return cur;
}

const nodeOf = (x: C) =>
  Object.fromEntries(
    [...x.sim.st.vms.values()].filter((v) => v.config['template'] !== '1').map((v) => [v.config['name'], v.node]),
  );

describe('proxmox: VMs over several nodes', () => {
  it("spreads each role over the three nodes; clones with a target from shared storage, or from the node's own template", async () => {
    const x = await cluster();
    const plan = await x.up(true);
    expect(x.sim.changes()).toEqual([]);
    expect(plan.map((c) => `${c.host} ${c.summary.split(':')[0]}`)).toEqual([
      'lb1 on node pve1 (no other haproxy member there)',
      'lb2 on node pve2 (no other haproxy member there (lb1 on pve1))',
      'pg1 on node pve3 (no other etcd/postgres member there)',
      'pg2 on node pve1 (no other etcd/postgres member there (pg1 on pve3))',
      'pg3 on node pve2 (no other etcd/postgres member there (pg1 on pve3, pg2 on pve1))',
    ]);
    expect(plan[2]!.summary).toContain('clone template 9000 on pve1 (shared storage, target pve3)');
    expect(plan[1]!.summary).toContain('clone template debian12-ci-local on pve2 into VM');

    await x.up();
    expect(nodeOf(x)).toEqual({ lb1: 'pve1', lb2: 'pve2', pg1: 'pve3', pg2: 'pve1', pg3: 'pve2' });
    const clones = x.sim.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/clone') && r.status === 200);
    const byName = Object.fromEntries(
      clones.map((r) => [r.params['name'], { path: r.path, target: r.params['target'], storage: r.params['storage'] }]),
    );
    expect(byName).toEqual({
      lb1: { path: '/nodes/pve1/qemu/9000/clone', target: undefined, storage: 'ceph' },
      pg2: { path: '/nodes/pve1/qemu/9000/clone', target: undefined, storage: 'ceph' },
      lb2: { path: '/nodes/pve2/qemu/9002/clone', target: undefined, storage: 'local-lvm' },
      pg3: { path: '/nodes/pve2/qemu/9002/clone', target: undefined, storage: 'local-lvm' },
      pg1: { path: '/nodes/pve1/qemu/9000/clone', target: 'pve3', storage: 'ceph' },
    });
    // Each VM was configured and started on its own node, and is recorded there.
    for (const vm of [...x.sim.st.vms.values()].filter((v) => v.config['template'] !== '1')) {
      expect(vm.status).toBe('running');
      expect(x.sim.requests.some((r) => r.path === `/nodes/${vm.node}/qemu/${vm.vmid}/status/start`)).toBe(true);
    }
    // status names each member's node; a re-run keeps every VM where it is and only reads.
    const st = await x.provider.status(x.inv);
    expect(st.map((h) => `${h.host} ${h.state} ${/ on (pve\d)/.exec(h.detail ?? '')?.[1]}`)).toEqual([
      'lb1 running pve1',
      'lb2 running pve2',
      'pg1 running pve3',
      'pg2 running pve1',
      'pg3 running pve2',
    ]);
    const before = x.sim.requests.length;
    expect(await x.up()).toEqual([]);
    expect(x.sim.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('skips an offline node when the spread still holds, and says so', async () => {
    const four: [string, Role[]][] = [
      ['lb1', ['haproxy']],
      ['lb2', ['haproxy']],
      ['pg1', ['etcd', 'postgres']],
      ['pg2', ['etcd', 'postgres']],
    ];
    const x = await cluster({}, four, (s) => s.setOnline('pve3', false));
    await x.up();
    expect(nodeOf(x)).toEqual({ lb1: 'pve1', lb2: 'pve2', pg1: 'pve1', pg2: 'pve2' });
    expect(x.log).toContain('proxmox: node pve3 offline: skipped (the spread holds on pve1, pve2)');
    expect(x.sim.requests.filter((r) => r.path.startsWith('/nodes/pve3/'))).toEqual([]);
  });

  it('refuses when an offline node breaks the spread, before any change', async () => {
    const x = await cluster({}, FIVE, (s) => s.setOnline('pve3', false));
    const e = await x.up().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).message).toContain(
      'provider.proxmox.nodes: node pve3 offline: the 3 etcd members need 3 different nodes and only pve1, pve2 are online',
    );
    expect((e as UserError).hint).toContain('spread: false');
    expect(x.sim.changes()).toEqual([]);
  });

  it('with spread: false the offline node is only skipped', async () => {
    const x = await cluster({ spread: false }, FIVE, (s) => s.setOnline('pve3', false));
    await x.up();
    expect(Object.values(nodeOf(x)).sort()).toEqual(['pve1', 'pve1', 'pve1', 'pve2', 'pve2']);
  });

  it('keeps a pin, and refuses a pin to an offline node', async () => {
    const x = await cluster({}, [
      ['pg1', ['etcd', 'postgres']],
      ['pg2', ['etcd', 'postgres']],
    ]);
    x.inv.hosts[0]!.proxmox!.node = 'pve3';
    x.inv.hosts[1]!.proxmox!.node = 'pve3';
    await x.up();
    expect(nodeOf(x)).toEqual({ pg1: 'pve3', pg2: 'pve3' });
    await x.close();
    const y = await cluster({}, [['pg1', ['etcd', 'postgres']]], (s) => s.setOnline('pve2', false));
    y.inv.hosts[0]!.proxmox!.node = 'pve2';
    const e = await y.up().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((e as Error).message).toContain('hosts.pg1.proxmox.node: host pg1 is pinned to node pve2, which is offline');
    expect(y.sim.changes()).toEqual([]);
  });

  it('refuses a node name the cluster does not have', async () => {
    const x = await cluster({ nodes: [{ name: 'pve1' }, { name: 'pve9' }] }, [['pg1', ['etcd', 'postgres']]]);
    const e = await x.up().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((e as Error).message).toContain(
      'provider.proxmox.nodes.1: node pve9 is not a node of this Proxmox cluster (nodes: pve1, pve2, pve3)',
    );
    expect(x.sim.changes()).toEqual([]);
  });
});

describe('placement', () => {
  const s = { nodes: NODES.map((name) => ({ name })), spread: true } as unknown as ProxmoxSettings;
  const inv = (hosts: [string, Role[]][]) => ({ hosts: hosts.map(([name, roles]) => ({ name, roles })) }) as never;

  it('counts existing VMs where they are, and puts new members where their role is not yet', () => {
    const r = place(
      inv(FIVE),
      s,
      new Map([
        ['pg1', 'pve1'],
        ['pg2', 'pve2'],
      ]),
      new Set(NODES),
    );
    expect(Object.fromEntries([...r.placed].map(([h, p]) => [h, p.node]))).toEqual({
      pg1: 'pve1',
      pg2: 'pve2',
      lb1: 'pve3',
      lb2: 'pve1',
      pg3: 'pve3',
    });
    expect(r.placed.get('pg3')!.why).toBe('no other etcd/postgres member there (pg1 on pve1, pg2 on pve2)');
    expect(r.placed.get('pg1')!.why).toBe('the VM exists there');
    expect(r.problems).toEqual([]);
  });

  it('more members than nodes: the fewest per node, said so', () => {
    const five: [string, Role[]][] = ['a', 'b', 'c', 'd', 'e'].map((n) => [n, ['etcd']]);
    const r = place(inv(five), s, new Map(), new Set(NODES));
    expect([...r.placed.values()].map((p) => p.node)).toEqual(['pve1', 'pve2', 'pve3', 'pve1', 'pve2']);
    expect(r.placed.get('d')!.why).toMatch(/^more etcd members than nodes: the node with the fewest/);
  });

  it('no usable node at all is refused, even without the spread', () => {
    const r = place(inv([['pg1', ['etcd']]]), { ...s, spread: false }, new Map(), new Set());
    expect(r.problems.map((p) => p.message)).toEqual(['no node pgha may use is online (pve1, pve2, pve3)']);
  });

  it('an offline node with nothing left to create is no problem', () => {
    const r = place(
      inv([
        ['pg1', ['etcd']],
        ['pg2', ['etcd']],
        ['pg3', ['etcd']],
      ]),
      s,
      new Map([
        ['pg1', 'pve1'],
        ['pg2', 'pve2'],
        ['pg3', 'pve3'],
      ]),
      new Set(['pve1', 'pve2']),
    );
    expect(r.problems).toEqual([]);
    expect(r.notes).toEqual([]);
  });
});

describe('proxmox HA resources (ha: true)', () => {
  it('registers every VM with a node-affinity rule and keeps each role apart; says where HA cannot recover; destroy undoes it', async () => {
    const x = await cluster({ ha: true });
    const plan = await x.up(true);
    expect(plan.every((c) => c.summary.endsWith(', then a Proxmox HA resource'))).toBe(true);
    expect(x.log).toContain(
      'proxmox: HA: storage local-lvm on pve2 is not shared: Proxmox HA can restart lb2, pg3 on pve2 only, not recover them on another node (use shared storage for that)',
    );
    await x.up();
    const ids = Object.fromEntries(
      [...x.sim.st.vms.values()]
        .filter((v) => v.config['template'] !== '1')
        .map((v) => [v.config['name'], `vm:${v.vmid}`]),
    );
    expect([...x.sim.st.ha.resources.keys()].sort()).toEqual(Object.values(ids).sort());
    expect(
      [...x.sim.st.ha.resources.values()].every(
        (r) => r.state === 'started' && /^pgha: host \w+ of cluster demo/.test(r.comment ?? ''),
      ),
    ).toBe(true);
    const rules = Object.fromEntries(
      [...x.sim.st.ha.rules].map(([id, r]) => [id, { ...r, resources: r['resources']!.split(',').sort().join(',') }]),
    );
    const sorted = (names: string[]) =>
      names
        .map((n) => ids[n])
        .sort()
        .join(',');
    expect(rules).toEqual({
      pgha_demo_nodes: {
        type: 'node-affinity',
        nodes: 'pve1,pve2,pve3',
        strict: '0',
        resources: sorted(['lb1', 'lb2', 'pg1', 'pg2', 'pg3']),
      },
      pgha_demo_etcd: { type: 'resource-affinity', affinity: 'negative', resources: sorted(['pg1', 'pg2', 'pg3']) },
      pgha_demo_haproxy: { type: 'resource-affinity', affinity: 'negative', resources: sorted(['lb1', 'lb2']) },
    });
    const before = x.sim.requests.length;
    expect(await x.up()).toEqual([]);
    expect(x.sim.requests.slice(before).filter((r) => r.method !== 'GET')).toEqual([]);

    await x.provider.destroy(x.inv, { check: false, log: (l) => x.log.push(l) });
    expect(x.sim.st.ha.resources.size).toBe(0);
    expect(x.sim.st.ha.rules.size).toBe(0);
    // Each VM left HA before it was stopped (an HA-managed VM would be started again).
    for (const sid of Object.values(ids)) {
      const i = x.sim.requests.findIndex((r) => r.method === 'DELETE' && r.path === `/cluster/ha/resources/${sid}`);
      const stop = x.sim.requests.findIndex((r) => r.path.endsWith(`/qemu/${sid.slice(3)}/status/stop`));
      expect(i).toBeGreaterThan(-1);
      expect(i).toBeLessThan(stop);
    }
  });

  it('registers an existing VM that is not yet an HA resource', async () => {
    const x = await cluster({}, [['pg1', ['etcd', 'postgres']]]);
    await x.up();
    x.inv.provider.proxmox!.ha = true;
    const vmid = [...x.sim.st.vms.values()].find((v) => v.config['name'] === 'pg1')!.vmid;
    expect(await x.up(true)).toEqual([
      {
        host: 'pg1',
        action: 'change',
        summary: `register VM ${vmid} on pve1 as a Proxmox HA resource (state started)`,
      },
    ]);
    await x.up();
    expect([...x.sim.st.ha.resources.keys()]).toEqual([`vm:${vmid}`]);
  });

  it('refuses before any change when the token may not manage HA', async () => {
    const x = await cluster({ ha: true }, FIVE, (s) =>
      s.setAcl({
        '/': s.st.acl['/']!.filter((p) => p !== 'Sys.Console'),
        '/vms': s.st.acl['/']!,
        '/storage': s.st.acl['/']!,
        '/sdn': s.st.acl['/']!,
      }),
    );
    const e = await x.up().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).message).toContain('lacks Sys.Console on / (provider.proxmox.ha)');
    expect((e as UserError).hint).toContain('pveum role add PghaHA --privs "Sys.Audit Sys.Console"');
    expect(x.sim.changes()).toEqual([]);
  });
});
