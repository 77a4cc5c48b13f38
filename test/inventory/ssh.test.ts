import { describe, expect, it } from 'vitest';
import { BASE, errorLines, load, loadError } from './helpers.js';

const STATIC = BASE.replace('provider: lab', 'provider: static');
const GROUPS = 'groups:\n  dc2: {ssh: {jump: "admin@bastion2:2222", user: deploy}}\n';

describe('inventory ssh.jump and group ssh settings', () => {
  it('host > group > inventory-wide, null and none go direct, and what was written is recorded as explicit', () => {
    const inv = load(
      STATIC.replace('hosts:', `ssh: {jump: lb1}\n${GROUPS}hosts:`)
        .replace(
          'pg2: {address: 10.77.0.12, roles: [postgres, etcd]}',
          'pg2: {address: 10.77.0.12, roles: [postgres, etcd], groups: [dc2]}',
        )
        .replace(
          'pg3: {address: 10.77.0.13, roles: [postgres, etcd]}',
          'pg3: {address: 10.77.0.13, roles: [postgres, etcd], groups: [dc2], ssh: {jump: null}}',
        )
        .replace(
          'lb2: {address: 10.77.0.22, roles: [haproxy]}',
          'lb2: {address: 10.77.0.22, roles: [haproxy], ssh: {jump: none}}',
        ),
    );
    const ssh = Object.fromEntries(inv.hosts.map((h) => [h.name, h.ssh]));
    expect(ssh.pg1).toEqual({ user: 'root', port: 22, become: false, jump: 'lb1', explicit: ['jump'] });
    expect(ssh.pg2).toEqual({
      user: 'deploy',
      port: 22,
      become: true,
      jump: 'admin@bastion2:2222',
      explicit: ['user', 'jump'],
    });
    expect(ssh.pg3.jump).toBe('none');
    expect(ssh.pg3.user).toBe('deploy');
    expect(ssh.lb2.jump).toBe('none');
    expect(ssh.lb1.jump).toBe('lb1');
  });

  it('no jump anywhere: unset', () => {
    expect(load(STATIC).hosts[0].ssh.jump).toBeUndefined();
  });

  it('a jump value that is not [user@]host[:port] is refused at its line', () => {
    const e = loadError(STATIC.replace('hosts:', 'ssh: {jump: "lb1 lb2"}\nhosts:'));
    expect(errorLines(e)).toEqual([
      {
        line: 6,
        field: 'ssh.jump',
        message: "'lb1 lb2' is not valid: use the name of an inventory host, [user@]host[:port] of a bastion, or none",
      },
    ]);
  });

  it('a port out of range, and a wrong type on a host', () => {
    const e = loadError(
      STATIC.replace('hosts:', 'ssh: {jump: "root@bastion:70000"}\nhosts:').replace(
        'pg1: {address: 10.77.0.11, roles: [postgres, etcd]}',
        'pg1: {address: 10.77.0.11, roles: [postgres, etcd], ssh: {jump: 3}}',
      ),
    );
    expect(errorLines(e)).toEqual([
      { line: 6, field: 'ssh.jump', message: "'root@bastion:70000': the port must be between 1 and 65535" },
      { line: 10, field: 'hosts.pg1.ssh.jump', message: 'expected a string, got number 3' },
    ]);
  });

  it('in a lab, a jump that names no inventory host is refused with the nearest name', () => {
    const e = loadError(BASE.replace('hosts:', 'ssh: {jump: lb3}\nhosts:'));
    expect(errorLines(e)).toEqual([
      { line: 6, field: 'ssh.jump', message: "'lb3' is not a host of this inventory: did you mean 'lb1'?" },
    ]);
    // With provider static the same name may be a bastion known to ssh config.
    expect(load(STATIC.replace('hosts:', 'ssh: {jump: lb3}\nhosts:')).hosts[0].ssh.jump).toBe('lb3');
  });

  it("unknown keys in a group's ssh settings are located", () => {
    const e = loadError(STATIC.replace('hosts:', 'groups:\n  dc2: {ssh: {jumphost: lb1}}\nhosts:'));
    expect(errorLines(e)).toEqual([
      {
        line: 7,
        field: 'groups.dc2.ssh.jumphost',
        message: "unknown key 'jumphost' (allowed: user, port, key_file, become, jump)",
      },
    ]);
  });
});
