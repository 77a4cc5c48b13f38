import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { loadSshConfig, parseProxyJump, parseSshConfig, sshConfigFor } from '../../src/engine/sshconfig.js';
import { parseJump } from '../../src/util/jump.js';
import { planConnections, resolveHost } from '../../src/engine/sshplan.js';
import { UserError } from '../../src/util/errors.js';
import type { Host } from '../../src/inventory/types.js';
import { BASE, load } from '../inventory/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'pgha-sshcfg-'));
const cfg = (text: string) => parseSshConfig('/test/ssh_config', text);

/** A key file that exists (ssh config IdentityFiles that do not exist are skipped, as ssh does). */
function keyFile(name: string): string {
  const f = join(dir, name);
  writeFileSync(f, 'not a real key\n');
  return f;
}

function configFile(text: string): string {
  const f = join(dir, `config-${Math.random().toString(36).slice(2)}`);
  writeFileSync(f, text);
  return f;
}

const STATIC = BASE.replace('provider: lab', 'provider: static');

function host(over: Partial<Host['ssh']> = {}, name = 'pg1', address = '10.77.0.11'): Host {
  return {
    name,
    address,
    roles: ['postgres'],
    groups: [],
    ssh: { user: 'root', port: 22, become: false, explicit: [], ...over },
    vars: {},
  };
}

describe('ssh config: matching and values', () => {
  it('Host patterns match the inventory name or the address; the first value obtained wins; Host * gives defaults', () => {
    const c = cfg(
      [
        'Host pg*',
        '  User deploy',
        '  Port 2200',
        'Host 10.77.0.12',
        '  User byaddress',
        '  HostName db2.example.net',
        'Host *',
        '  User fallback',
        '  Port 22',
        '  ProxyJump bastion',
        '',
      ].join('\n'),
    );
    expect(sshConfigFor(c, 'pg1', '10.77.0.11')).toEqual({
      user: 'deploy',
      port: 2200,
      proxyJump: 'bastion',
      identityFiles: [],
    });
    // lb2 is matched by address only (and by Host *)
    expect(sshConfigFor(c, 'lb2', '10.77.0.12')).toEqual({
      user: 'byaddress',
      port: 22,
      hostName: 'db2.example.net',
      proxyJump: 'bastion',
      identityFiles: [],
    });
    expect(sshConfigFor(c, 'lb1', '10.77.0.21')).toEqual({
      user: 'fallback',
      port: 22,
      proxyJump: 'bastion',
      identityFiles: [],
    });
  });

  it('a negated pattern matching the name or the address excludes the section', () => {
    const c = cfg(['Host * !pg2 !10.77.0.13', '  User deploy', ''].join('\n'));
    expect(sshConfigFor(c, 'pg1', '10.77.0.11').user).toBe('deploy');
    expect(sshConfigFor(c, 'pg2', '10.77.0.12').user).toBeUndefined();
    expect(sshConfigFor(c, 'pg3', '10.77.0.13').user).toBeUndefined();
  });

  it('keywords are case-insensitive, = separators and top-level values apply, HostName %h is the inventory name', () => {
    const c = cfg(
      [
        'port=2022',
        'Host pg1',
        '  hostname %h.db.example.net',
        '  IDENTITYFILE ~/.ssh/pg_key',
        '  identityfile /keys/second',
        '',
      ].join('\n'),
    );
    expect(sshConfigFor(c, 'pg1', '10.77.0.11')).toEqual({
      port: 2022,
      hostName: 'pg1.db.example.net',
      identityFiles: ['~/.ssh/pg_key', '/keys/second'],
    });
  });

  it('Match exec is not run; Match originalhost is evaluated', () => {
    const marker = join(dir, 'exec-ran');
    const c = cfg(
      [`Match exec "touch ${marker}"`, '  User fromexec', 'Match originalhost pg1', '  User frommatch', ''].join('\n'),
    );
    expect(sshConfigFor(c, 'pg1', '10.77.0.11').user).toBe('frommatch');
    expect(sshConfigFor(c, 'pg2', '10.77.0.12').user).toBeUndefined();
    expect(existsSync(marker)).toBe(false);
  });

  it('a bad Port is a UserError naming the file', () => {
    expect(() => sshConfigFor(cfg('Host *\n  Port ssh\n'), 'pg1', '10.77.0.11')).toThrow(
      /ssh config \/test\/ssh_config: Port 'ssh' for pg1/,
    );
  });

  it('PGHA_SSH_CONFIG names the file; a missing one is a UserError', () => {
    const f = configFile('Host *\n  User viaenv\n');
    expect(sshConfigFor(loadSshConfig({ PGHA_SSH_CONFIG: f })!, 'pg1', '10.77.0.11').user).toBe('viaenv');
    expect(() => loadSshConfig({ PGHA_SSH_CONFIG: join(dir, 'missing') })).toThrow(UserError);
  });
});

describe('jump specs', () => {
  it('parses [user@]host[:port]', () => {
    expect(parseJump('lb1')).toEqual({ host: 'lb1' });
    expect(parseJump('admin@bastion.example.net:2222')).toEqual({
      user: 'admin',
      host: 'bastion.example.net',
      port: 2222,
    });
    expect(parseJump('10.0.0.5:22')).toEqual({ host: '10.0.0.5', port: 22 });
    expect(parseJump('ops@[2001:db8::1]:2200')).toEqual({ user: 'ops', host: '2001:db8::1', port: 2200 });
    expect(parseJump('bastion:70000')).toBeUndefined();
    expect(parseJump('a b')).toBeUndefined();
    expect(parseJump('u@@h')).toBeUndefined();
  });

  it('ProxyJump: none, and chains of hops', () => {
    expect(parseProxyJump('none', 'f')).toEqual([]);
    expect(parseProxyJump('admin@outer:2222,inner', 'f')).toEqual([
      { user: 'admin', host: 'outer', port: 2222 },
      { host: 'inner' },
    ]);
    expect(() => parseProxyJump('outer,,inner', '/x/config')).toThrow(
      /ssh config \/x\/config: ProxyJump 'outer,,inner'/,
    );
  });
});

describe('precedence: inventory > ssh config > defaults', () => {
  it('what the inventory did not set comes from ssh config; become follows the user', () => {
    const key = keyFile('id_deploy');
    const c = cfg(`Host pg1\n  User deploy\n  Port 2222\n  IdentityFile ${key}\n  HostName pg1.example.net\n`);
    const r = resolveHost(host(), c);
    expect(r.host.ssh).toMatchObject({
      user: 'deploy',
      port: 2222,
      keyFile: key,
      become: true,
      hostName: 'pg1.example.net',
    });
    expect(r.host.address).toBe('10.77.0.11');
  });

  it('explicit inventory settings win, and a missing IdentityFile is skipped', () => {
    const key = keyFile('id_second');
    const c = cfg(
      `Host pg1\n  User deploy\n  Port 2222\n  IdentityFile ${join(dir, 'absent')}\n  IdentityFile ${key}\n`,
    );
    const r = resolveHost(host({ user: 'admin', become: true, explicit: ['user', 'become'] }), c);
    expect(r.host.ssh).toMatchObject({ user: 'admin', port: 2222, keyFile: key, become: true });
    const pinned = resolveHost(host({ port: 22, keyFile: '/inv/key', explicit: ['port', 'keyFile'] }), c);
    expect(pinned.host.ssh).toMatchObject({ user: 'deploy', port: 22, keyFile: '/inv/key' });
  });

  it('IdentityFile: ~ is the home directory and %h %r %p %n %u are expanded', () => {
    const c = cfg('Host pg1\n  User deploy\n  IdentityFile ~/keys/%n-%r@%h:%p-%u\n');
    const r = resolveHost(host(), c);
    // The file does not exist, so it is not used; the expansion is checked on an existing one below.
    expect(r.host.ssh.keyFile).toBeUndefined();
    const name = `pg1-deploy@10.77.0.11:22-${userInfo().username}`;
    const existing = keyFile(name);
    const abs = resolveHost(host(), cfg(`Host pg1\n  User deploy\n  IdentityFile ${dir}/%n-%r@%h:%p-%u\n`));
    expect(abs.host.ssh.keyFile).toBe(existing);
    expect(resolveHost(host(), cfg('Host pg1\n  IdentityFile ~\n')).host.ssh.keyFile).toBe(homedir());
  });

  it('ProxyJump tokens are expanded; an explicit jump (also none) wins over ProxyJump', () => {
    const c = cfg('Host *\n  ProxyJump %r@gw-%n:2200\n');
    expect(resolveHost(host(), c).proxyJump).toBe('root@gw-pg1:2200');
    expect(resolveHost(host({ jump: 'none', explicit: ['jump'] }), c).proxyJump).toBeUndefined();
  });
});

describe('connection plans', () => {
  it('inventory jump: the jump host is an inventory host reached directly; a host may go direct with jump: none', () => {
    const inv = load(
      STATIC.replace('hosts:', 'ssh: {jump: lb1, user: admin}\nhosts:').replace(
        'pg3: {address: 10.77.0.13, roles: [postgres, etcd]}',
        'pg3: {address: 10.77.0.13, roles: [postgres, etcd], ssh: {jump: none}}',
      ),
    );
    const plans = planConnections(inv, inv.hosts, { PGHA_SSH_CONFIG: configFile('') });
    expect(plans.get('lb1')!.jumps).toEqual([]);
    expect(plans.get('pg3')!.jumps).toEqual([]);
    expect(plans.get('pg1')!.jumps.map((h) => [h.name, h.address, h.ssh.user])).toEqual([
      ['lb1', '10.77.0.21', 'admin'],
    ]);
    expect(plans.get('lb2')!.jumps.map((h) => h.name)).toEqual(['lb1']);
  });

  it('an external bastion takes HostName, Port and IdentityFile from ssh config; user and port in the spec win', () => {
    const key = keyFile('id_bastion');
    const inv = load(STATIC.replace('hosts:', 'ssh: {jump: "ops@bastion"}\nhosts:'));
    const env = {
      PGHA_SSH_CONFIG: configFile(
        `Host bastion\n  HostName 192.0.2.10\n  Port 2222\n  User ignored\n  IdentityFile ${key}\n`,
      ),
    };
    const [hop] = planConnections(inv, inv.hosts, env).get('pg1')!.jumps;
    expect(hop).toMatchObject({
      name: 'bastion',
      address: '192.0.2.10',
      ssh: { user: 'ops', port: 2222, keyFile: key },
    });
  });

  it('ProxyJump from ssh config: chains, and a jump host never jumps through itself', () => {
    const inv = load(STATIC);
    const env = { PGHA_SSH_CONFIG: configFile('Host 10.77.0.*\n  ProxyJump admin@outer:2200,10.77.0.21\n') };
    const plans = planConnections(inv, inv.hosts, env);
    expect(plans.get('pg1')!.jumps.map((h) => `${h.ssh.user}@${h.address}:${h.ssh.port}`)).toEqual([
      'admin@outer:2200',
      'root@10.77.0.21:22',
    ]);
    // lb1 is 10.77.0.21: only the hops before it remain
    expect(plans.get('lb1')!.jumps.map((h) => h.address)).toEqual(['outer']);
  });

  it('a lab inventory ignores ssh config', () => {
    const inv = load(BASE.replace('hosts:', 'ssh: {jump: lb1}\nhosts:'));
    const env = { PGHA_SSH_CONFIG: configFile('Host *\n  User nobody\n  Port 2200\n  ProxyJump elsewhere\n') };
    const plans = planConnections(inv, inv.hosts, env);
    expect(plans.get('pg1')!.host.ssh).toMatchObject({ user: 'root', port: 22 });
    expect(plans.get('pg1')!.jumps.map((h) => h.name)).toEqual(['lb1']);
    expect(plans.get('lb1')!.jumps).toEqual([]);
  });
});
