// Inventory fields for Proxmox clusters of several nodes: the allowed nodes (names or maps with what differs per
// node), the spread switch and a host's pinned node, with errors at their line.
import { describe, expect, it } from 'vitest';
import { load, loadError } from './helpers.js';

const base = (proxmox: string, host = '') => `cluster: demo
provider:
  type: proxmox
  proxmox:
    api: {host: pve.example.net, node: pve1, token_id: 'pgha@pve!t'}
    template: 9000
    storage: ceph
    bridge: vmbr0
${proxmox}
network: {subnet: 10.1.0.0/24}
hosts:
  pg1: {address: 10.1.0.11, roles: [etcd, postgres]${host}}
`;

describe('proxmox nodes in the inventory', () => {
  it('defaults to api.node alone, with the spread on', () => {
    const px = load(base('')).provider.proxmox!;
    expect(px.nodes).toEqual([{ name: 'pve1' }]);
    expect(px.spread).toBe(true);
    expect(px.ha).toBe(false);
  });

  it('reads names and per-node template (vmid or name), storage and bridge; a host may pin its node', () => {
    const inv = load(
      base(
        `    spread: false
    ha: true
    nodes:
      - pve1
      - {name: pve2, template: 9002, storage: local-lvm}
      - {name: pve3, template: debian12-ci, bridge: vmbr1}`,
        ', proxmox: {node: pve3}',
      ),
    );
    const px = inv.provider.proxmox!;
    expect(px.nodes).toEqual([
      { name: 'pve1' },
      { name: 'pve2', template: 9002, storage: 'local-lvm' },
      { name: 'pve3', template: 'debian12-ci', bridge: 'vmbr1' },
    ]);
    expect(px.spread).toBe(false);
    expect(px.ha).toBe(true);
    expect(inv.hosts[0]!.proxmox!.node).toBe('pve3');
  });

  it('refuses a pin to a node that is not listed, and unknown keys of a node, at their lines', () => {
    const e = loadError(
      base(
        `    nodes:
      - pve1
      - {name: pve2, disk: 3}`,
        ', proxmox: {node: pve7}',
      ),
    );
    expect(e.message).toMatch(
      /:14: hosts\.pg1\.proxmox\.node: node pve7 is not one of provider\.proxmox\.nodes \(pve1, pve2\)/,
    );
    expect(e.message).toContain(
      `${e.file}:11: provider.proxmox.nodes.1.disk: unknown key 'disk' (allowed: name, template, storage, bridge)`,
    );
  });
});
