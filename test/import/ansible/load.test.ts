import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadAnsible } from '../../../src/import/ansible/load.js';
import { importAnsible } from '../../../src/import/ansible/index.js';
import { UserError } from '../../../src/util/errors.js';
import { ALL_VARS, AUTOBASE_INI, AUTOBASE_YAML, layout } from './layout.js';

const hostOf = (dir: string, name: string, file = 'inventory') =>
  loadAnsible(join(dir, file)).hosts.find((h) => h.name === name)!;

describe('Ansible layout and precedence', () => {
  it('orders groups parents before children, then by name, and includes groups reached through children', () => {
    const dir = layout({ inventory: AUTOBASE_INI });
    expect(hostOf(dir, '10.231.120.11').groups).toEqual(['dc_east', 'etcd_cluster', 'postgres_cluster', 'master']);
    expect(hostOf(dir, '10.231.120.22').groups).toEqual(['balancers']);
  });

  it('all < parent group < child group < host line < host_vars, with group_vars files over inventory group vars', () => {
    const dir = layout({
      inventory:
        AUTOBASE_INI +
        '\n[all:vars]\na=inv-all\nb=inv-all\nc=inv-all\nd=inv-all\ne=inv-all\n[postgres_cluster:vars]\nb=inv-parent\n[master:vars]\nc=inv-child\n',
      'group_vars/all.yml': 'd: file-all\n',
      'group_vars/postgres_cluster.yml': 'c: file-parent\ne: file-parent\n',
      'group_vars/master.yaml': 'e: file-child\n',
      'host_vars/10.231.120.11.yml': 'f: host-file\n',
    });
    const inline = layout({
      inventory: AUTOBASE_INI.replace(
        '10.231.120.11 hostname=pg1',
        '10.231.120.11 hostname=pg1 f=host-line g=host-line',
      ),
    });
    const v = hostOf(dir, '10.231.120.11').vars;
    expect(v.a).toEqual({ value: 'inv-all', where: 'inventory:27' });
    expect(v.b).toEqual({ value: 'inv-parent', where: 'inventory:33' });
    // An inventory-file var of a child group loses to a group_vars file of its parent (Ansible's order).
    expect(v.c).toEqual({ value: 'file-parent', where: 'group_vars/postgres_cluster.yml:1' });
    expect(v.d).toEqual({ value: 'file-all', where: 'group_vars/all.yml:1' });
    expect(v.e).toEqual({ value: 'file-child', where: 'group_vars/master.yaml:1' });
    expect(v.f).toEqual({ value: 'host-file', where: 'host_vars/10.231.120.11.yml:1' });
    expect(hostOf(inline, '10.231.120.11').vars.g.value).toBe('host-line');
    // A replica is not in master: it keeps the parent's value.
    expect(hostOf(dir, '10.231.120.12').vars.e.value).toBe('file-parent');
    expect(hostOf(dir, '10.231.120.21').vars.b.value).toBe('inv-all');
  });

  it('a host_vars file wins over the host line; the host line over group vars', () => {
    const dir = layout({
      inventory: AUTOBASE_INI.replace('10.231.120.12 hostname=pg2', '10.231.120.12 hostname=pg2 x=line y=line'),
      'group_vars/replica.yml': 'x: group\ny: group\n',
      'host_vars/10.231.120.12': 'y: file\n',
    });
    const v = hostOf(dir, '10.231.120.12').vars;
    expect(v.x.value).toBe('line');
    expect(v.y).toEqual({ value: 'file', where: 'host_vars/10.231.120.12:1' });
    expect([...hostOf(dir, '10.231.120.12').own].sort()).toEqual(['hostname', 'x', 'y']);
  });

  it('reads a group_vars folder (files in name order, later wins) and ansible_group_priority', () => {
    const dir = layout({
      inventory: '[a]\nh1\n[b]\nh1\n',
      'group_vars/all/10-main.yml': 'p: one\nq: one\n',
      'group_vars/all/20-more.yaml': 'q: two\n',
      'group_vars/a.yml': 'r: a\nansible_group_priority: 5\n',
      'group_vars/b.yml': 'r: b\n',
    });
    const h = hostOf(dir, 'h1');
    expect(h.vars.p.where).toBe('group_vars/all/10-main.yml:1');
    expect(h.vars.q).toEqual({ value: 'two', where: 'group_vars/all/20-more.yaml:1' });
    expect(h.groups).toEqual(['b', 'a']);
    expect(h.vars.r.value).toBe('a');
    expect(h.vars.ansible_group_priority).toBeUndefined();
  });

  it("reads Ansible's YAML inventory format with the same groups and vars", () => {
    const dir = layout({
      'hosts.yml':
        AUTOBASE_YAML.replace('10.231.120.13: {hostname: pg3}', '10.231.120.13: {hostname: pg3, z: 1}') +
        '  vars:\n    k: v\n',
    });
    const h = hostOf(dir, '10.231.120.13', 'hosts.yml');
    expect(h.groups).toEqual(['etcd_cluster', 'postgres_cluster', 'replica']);
    expect(h.vars.z).toEqual({ value: 1, where: 'hosts.yml:20' });
    expect(h.vars.k).toEqual({ value: 'v', where: 'hosts.yml:26' });
    expect(h.vars.hostname.value).toBe('pg3');
  });

  it('expands host ranges in a YAML inventory too', () => {
    const dir = layout({
      'inventory.yaml': 'all:\n  children:\n    etcd_cluster:\n      hosts:\n        etcd[1:3]: {ansible_port: 2200}\n',
    });
    const inv = loadAnsible(join(dir, 'inventory.yaml'));
    expect(inv.hosts.map((h) => `${h.name}:${h.vars.ansible_port.value}`)).toEqual([
      'etcd1:2200',
      'etcd2:2200',
      'etcd3:2200',
    ]);
  });

  it('the same cluster as INI and as YAML gives the same pgha inventory', () => {
    const ini = layout({
      inventory: AUTOBASE_INI,
      'group_vars/all.yml': ALL_VARS,
      'host_vars/10.231.120.13.yml': 'patroni_tags: x\n',
    });
    const yml = layout({
      'inventory.yml': AUTOBASE_YAML,
      'group_vars/all.yml': ALL_VARS,
      'host_vars/10.231.120.13.yml': 'patroni_tags: x\n',
    });
    const a = importAnsible(join(ini, 'inventory'), {});
    const b = importAnsible(join(yml, 'inventory.yml'), {});
    const body = (t: string) =>
      t
        .split('\n')
        .filter((l) => !l.startsWith('# Imported from'))
        .join('\n');
    expect(body(a.text)).toContain('pg3: { address: 10.231.120.13');
    expect(body(b.text)).toBe(body(a.text));
    expect(b.unmapped).toEqual(a.unmapped);
  });

  it('finds the inventory file in a folder, and refuses a group cycle', () => {
    const dir = layout({ hosts: '[g]\nh1\n' });
    expect(loadAnsible(dir).hosts.map((h) => h.name)).toEqual(['h1']);
    const cyc = layout({ inventory: '[a:children]\nb\n[b:children]\na\n[a]\nh\n' });
    expect(() => loadAnsible(join(cyc, 'inventory'))).toThrow(UserError);
    expect(() => loadAnsible(join(cyc, 'missing'))).toThrow(/does not exist/);
  });
});
