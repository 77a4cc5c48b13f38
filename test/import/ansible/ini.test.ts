import { describe, expect, it } from 'vitest';
import { expandHostPattern, parseIni, parseValue, splitWords } from '../../../src/import/ansible/ini.js';
import { UserError } from '../../../src/util/errors.js';

const hostsOf = (text: string, group: string) => [...(parseIni(text, 'inv').groups.get(group)?.hosts.keys() ?? [])];

describe('Ansible INI inventory', () => {
  it('reads groups, hosts before any section (ungrouped), children and vars with their lines', () => {
    const inv = parseIni(
      [
        'loose.example.org',
        '[master]',
        '10.0.0.11 hostname=pg1',
        '',
        '[replica]',
        '10.0.0.12 hostname=pg2',
        '[postgres_cluster:children]',
        'master',
        'replica',
        '[postgres_cluster:vars]',
        'patroni_ttl=20',
      ].join('\n'),
      'inventory',
    );
    expect(hostsOf('loose.example.org\n[a]\nh1', 'ungrouped')).toEqual(['loose.example.org']);
    expect([...inv.groups.get('master')!.hosts.keys()]).toEqual(['10.0.0.11']);
    expect(inv.groups.get('master')!.hosts.get('10.0.0.11')).toEqual({
      hostname: { value: 'pg1', where: 'inventory:3' },
    });
    expect([...inv.groups.get('postgres_cluster')!.children]).toEqual(['master', 'replica']);
    expect(inv.groups.get('postgres_cluster')!.vars.patroni_ttl).toEqual({ value: 20, where: 'inventory:11' });
    expect(inv.hostOrder).toEqual(['loose.example.org', '10.0.0.11', '10.0.0.12']);
  });

  it('skips comments (# anywhere unquoted, ; at the start) and keeps # inside quotes', () => {
    const inv = parseIni(
      [
        '# a comment',
        '; another',
        '[db]',
        'h1 a=1 # trailing comment b=2',
        "h2 label='x # y'",
        '[db:vars]',
        'greeting = "hi # there"  # comment',
        'plain=text # comment',
      ].join('\n'),
      'inv',
    );
    const db = inv.groups.get('db')!;
    expect(Object.keys(db.hosts.get('h1')!)).toEqual(['a']);
    expect(db.hosts.get('h2')!.label.value).toBe('x # y');
    expect(db.vars.greeting.value).toBe('hi # there');
    expect(db.vars.plain.value).toBe('text');
  });

  it('reads quoted values, numbers and Python literals as Ansible does', () => {
    expect(parseValue("'22'")).toBe('22');
    expect(parseValue('"a b"')).toBe('a b');
    expect(parseValue('22')).toBe(22);
    expect(parseValue('1.5')).toBe(1.5);
    expect(parseValue('True')).toBe(true);
    expect(parseValue('False')).toBe(false);
    expect(parseValue('None')).toBe(null);
    expect(parseValue('true')).toBe('true');
    expect(splitWords(`h x="a b" y='c d'`)).toEqual(['h', 'x="a b"', "y='c d'"]);
    const inv = parseIni('[g]\nh1 ansible_user="deploy user" ansible_port=2222', 'inv');
    expect(inv.groups.get('g')!.hosts.get('h1')!.ansible_user.value).toBe('deploy user');
    expect(inv.groups.get('g')!.hosts.get('h1')!.ansible_port.value).toBe(2222);
  });

  it('expands host ranges (numeric with padding and step, letters) and host:port', () => {
    expect(expandHostPattern('pg[1:3]')).toEqual(['pg1', 'pg2', 'pg3']);
    expect(expandHostPattern('db[08:10]')).toEqual(['db08', 'db09', 'db10']);
    expect(expandHostPattern('n[1:7:3]')).toEqual(['n1', 'n4', 'n7']);
    expect(expandHostPattern('x-[a:c]')).toEqual(['x-a', 'x-b', 'x-c']);
    expect(expandHostPattern('10.0.0.[11:12]')).toEqual(['10.0.0.11', '10.0.0.12']);
    expect(expandHostPattern('r[1:2]-h[1:2]')).toEqual(['r1-h1', 'r1-h2', 'r2-h1', 'r2-h2']);
    const inv = parseIni('[g]\npg[1:2] role=x\nweb:2222', 'inv');
    expect([...inv.groups.get('g')!.hosts.keys()]).toEqual(['pg1', 'pg2', 'web']);
    expect(inv.groups.get('g')!.hosts.get('pg2')!.role.value).toBe('x');
    expect(inv.groups.get('g')!.hosts.get('web')!.ansible_port.value).toBe(2222);
  });

  it("merges a host's inline vars across lines of the same group", () => {
    const inv = parseIni('[g]\nh a=1\nh b=2', 'inv');
    expect(Object.keys(inv.groups.get('g')!.hosts.get('h')!).sort()).toEqual(['a', 'b']);
  });

  it('names file and line of malformed input', () => {
    const bad = (text: string) => {
      try {
        parseIni(text, 'inventory');
      } catch (e) {
        expect(e).toBeInstanceOf(UserError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(bad('[g]\nh1 novalue')).toMatch(/^inventory:2: expected key=value/);
    expect(bad('[g:weird]')).toMatch(/^inventory:1: unknown section type :weird/);
    expect(bad('[g]\nh1 a="open')).toMatch(/^inventory:2: unterminated " quote/);
    expect(bad('[g:vars]\nnovalue')).toMatch(/^inventory:2: expected key=value/);
    expect(bad('[g]\npg[3:1]')).toMatch(/runs backwards/);
    expect(bad('[g:children]\na b')).toMatch(/names one group/);
  });
});
