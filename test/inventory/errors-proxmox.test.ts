// Bad Proxmox sections of an inventory: one UserError naming file, line and field.
import { describe, expect, it } from 'vitest';
import { BASE, errorLines, loadError } from './helpers.js';

describe('bad Proxmox settings in an inventory', () => {
  it('the Proxmox token secret is never accepted in the file', () => {
    const e = loadError(
      BASE.replace(
        'provider: lab',
        `provider:
  type: proxmox
  proxmox:
    api: {host: pve.test, node: n1, token_id: 'pgha@pve!t', token_secret: 0123-4567}
    template: 9000
    storage: local-lvm
    bridge: vmbr0`,
      ),
    );
    expect(errorLines(e)).toContainEqual({
      line: 5,
      field: 'provider.proxmox.api.token_secret',
      message: expect.stringMatching(/may not be written in the inventory.*PGHA_PVE_TOKEN_SECRET/),
    });
  });

  it('provider-specific sections with another provider, and a missing proxmox section', () => {
    let e = loadError(
      BASE.replace('provider: lab', 'provider: {type: static, lab: {cache_port: 3142}}').replace(
        'roles: [haproxy]}',
        'roles: [haproxy], proxmox: {cores: 2}}',
      ),
    );
    const errs = errorLines(e);
    expect(errs).toContainEqual({
      line: 2,
      field: 'provider.lab',
      message: 'lab settings are only used with provider lab (type is static)',
    });
    expect(errs).toContainEqual({
      line: 7,
      field: 'hosts.lb1.proxmox',
      message: 'proxmox settings are only used with provider proxmox (this inventory uses static)',
    });
    e = loadError(BASE.replace('provider: lab', 'provider: {type: proxmox}'));
    expect(errorLines(e)).toContainEqual({ line: 2, field: 'provider.proxmox', message: "'proxmox' is required" });
    e = loadError(BASE.replace('provider: lab', 'provider: proxmx'));
    expect(errorLines(e)).toContainEqual({
      line: 2,
      field: 'provider',
      message: "'proxmx' is not one of lab, static, proxmox: did you mean 'proxmox'?",
    });
  });

  it('duplicate Proxmox vmids', () => {
    const e = loadError(
      BASE.replace(
        'provider: lab',
        `provider:
  type: proxmox
  proxmox: {api: {host: pve.test, node: n1, token_id: 'pgha@pve!t'}, template: 9000, storage: local-lvm, bridge: vmbr0}`,
      )
        .replace('roles: [haproxy]}\n  lb2', 'roles: [haproxy], proxmox: {vmid: 700}}\n  lb2')
        .replace('roles: [haproxy]}\n  pg1', 'roles: [haproxy], proxmox: {vmid: 700}}\n  pg1'),
    );
    expect(errorLines(e)).toEqual([
      { line: 10, field: 'hosts.lb2.proxmox.vmid', message: 'vmid 700 is already used by host lb1' },
    ]);
  });

  it('Proxmox gateways outside the subnet or on a host address, and a vmid equal to the template', () => {
    const e = loadError(
      BASE.replace(
        'provider: lab',
        `provider:
  type: proxmox
  proxmox:
    api: {host: pve.test, node: n1, token_id: 'pgha@pve!t'}
    template: 9000
    storage: local-lvm
    bridge: vmbr0
    defaults: {gateway: 10.9.0.1}`,
      ).replace('roles: [haproxy]}\n  lb2', 'roles: [haproxy], proxmox: {vmid: 9000, gateway: 10.77.0.12}}\n  lb2'),
    );
    expect(errorLines(e)).toEqual([
      {
        line: 9,
        field: 'provider.proxmox.defaults.gateway',
        message: 'gateway 10.9.0.1 is outside the subnet 10.77.0.0/24',
      },
      { line: 14, field: 'hosts.lb1.proxmox.vmid', message: "vmid 9000 is the template's vmid" },
      { line: 14, field: 'hosts.lb1.proxmox.gateway', message: 'gateway 10.77.0.12 is the address of host pg2' },
    ]);
  });
});
