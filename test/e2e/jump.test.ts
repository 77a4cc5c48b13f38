// Hosts reachable only through a jump host: a 3-host lab whose postgres hosts drop SSH from this machine, then
// pgha (provider static, the lab's key) runs the demo playbook through the balancer, set in the inventory
// (ssh.jump) or as ProxyJump in an ssh config file; unreachable hops are named in the errors.
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sidecarPath } from '../../src/inventory/types.js';
import type { Host } from '../../src/inventory/types.js';
import { machineName } from '../../src/providers/lab/render.js';
import { labResourcesLeft } from '../../src/providers/lab/index.js';
import { KnownHosts } from '../../src/engine/knownhosts.js';
import { SshTransport } from '../../src/engine/transport.js';
import { connectPlanned } from '../../src/engine/jump.js';
import { planConnections } from '../../src/engine/sshplan.js';
import { expectOk, inventory, pgha, sh, tempInventory } from './helpers.js';

const NET = '10.231.110';
const BRIDGE = `${NET}.1`;
const TABLE = 'pgha_jump_test';
const lab = tempInventory('jump.yml');
const BEHIND = ['pg1', 'pg2'];
const open: SshTransport[] = [];

const netns = (host: string) => machineName('e2e-jump', host);

function ensureNft(): void {
  if (spawnSync('sh', ['-c', 'command -v nft']).status === 0) return;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore' });
  execFileSync('apt-get', ['install', '-y', '-qq', 'nftables'], { env, stdio: 'ignore' });
}

/** Inside a host: drop SSH coming from this machine's bridge address (the other lab hosts still reach it). */
function cutSshFromControl(host: string): void {
  const rules = `table inet ${TABLE} {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    ip saddr ${BRIDGE} tcp dport 22 drop\n  }\n}\n`;
  execFileSync('ip', ['netns', 'exec', netns(host), 'nft', '-f', '-'], { input: rules });
}

function healAll(): void {
  for (const h of BEHIND)
    spawnSync('ip', ['netns', 'exec', netns(h), 'nft', 'delete', 'table', 'inet', TABLE], { stdio: 'ignore' });
}

/** A provider static inventory on the lab's hosts, in a folder of its own (its own known_hosts). */
function staticInventory(opts: { ssh?: string; greeting: string; pg2Ssh?: string; pg1Ssh?: string }): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-e2e-jump-'));
  const file = join(dir, 'static.yml');
  const own = (s?: string) => (s ? `, ssh: ${s}` : '');
  writeFileSync(
    file,
    [
      'cluster: e2e-jump',
      'provider: static',
      `network: {subnet: ${NET}.0/24, vip: ${NET}.100}`,
      ...(opts.ssh ? [`ssh: ${opts.ssh}`] : []),
      `vars: {demo_greeting: ${opts.greeting}}`,
      'hosts:',
      `  lb1: {address: ${NET}.21, roles: [haproxy]}`,
      `  pg1: {address: ${NET}.11, roles: [postgres, etcd]${own(opts.pg1Ssh)}}`,
      `  pg2: {address: ${NET}.12, roles: [postgres, etcd]${own(opts.pg2Ssh)}}`,
      '',
    ].join('\n'),
  );
  return file;
}

async function labKey(): Promise<string> {
  return sidecarPath(await inventory(lab), 'id_ed25519');
}

/** Established TCP connections to lb1's sshd from this machine, as lb1 sees them. */
async function sshdPeersFromControl(lb1: SshTransport): Promise<number> {
  const out = await sh(
    lb1,
    `ss -Htn state established '( sport = :22 )' | awk '{print $4}' | grep -c '^${BRIDGE.replace(/\./g, '\\.')}:' || true`,
  );
  return Number(out);
}

afterAll(async () => {
  for (const t of open) await t.close();
  healAll();
  const r = await pgha(['destroy', '-i', lab, '--yes']);
  if (r.code !== 0) console.log(`destroy exited ${r.code}: ${r.stdout.slice(-2000)} ${r.stderr.slice(-2000)}`);
});

describe('hosts behind a jump host', () => {
  it('boots a 3-host lab', async () => {
    const r = await pgha(['lab', 'up', '-i', lab]);
    expectOk(r, 'pgha lab up');
    console.log(`lab up (3 hosts): ${r.seconds.toFixed(1)} s`);
  });

  it('once SSH from this machine is dropped on the postgres hosts, a direct connection fails and lb1 still answers', async () => {
    ensureNft();
    for (const h of BEHIND) cutSshFromControl(h);
    const inv = await inventory(lab);
    const kh = new KnownHosts(sidecarPath(inv, 'known_hosts'));
    const byName = (n: string) => inv.hosts.find((h) => h.name === n)!;
    const lb1 = await SshTransport.connect(byName('lb1'), kh);
    open.push(lb1);
    expect(await sh(lb1, 'hostname')).toBe('lb1');
    await expect(SshTransport.connect(byName('pg1'), kh, { timeoutMs: 5_000 })).rejects.toThrow(
      `cannot reach root@${NET}.11:22 over SSH`,
    );
    // pgha itself without a jump host: the two postgres hosts fail to connect, lb1 does not.
    const direct = await pgha([
      'run',
      'demo',
      '-i',
      staticInventory({ ssh: `{key_file: ${await labKey()}}`, greeting: 'hello' }),
    ]);
    expect(direct.code).toBe(1);
    expect(direct.json.error.step).toBe('connect');
    expect(direct.json.error.failures.map((f: { host: string }) => f.host).sort()).toEqual(BEHIND);
  });

  it('pgha run demo through ssh.jump: lb1 changes the postgres hosts, over one shared connection to lb1', async () => {
    const file = staticInventory({ ssh: `{key_file: ${await labKey()}, jump: lb1}`, greeting: 'hello' });
    const r = await pgha(['run', 'demo', '-i', file]);
    expectOk(r, 'pgha run demo (jump lb1)');
    const changed = new Set(r.json.changes.map((c: { host: string }) => c.host));
    expect([...changed].sort()).toEqual(['lb1', 'pg1', 'pg2']);
    expect(
      r.json.changes.filter(
        (c: { host: string; summary: string }) => c.host === 'pg1' && c.summary === 'create /etc/pgha-demo/greeting',
      ),
    ).toHaveLength(1);
    console.log(`demo through the jump host (3 hosts, fresh): ${r.json.seconds} s`);

    // The same plan from the test: the postgres hosts see their SSH client at lb1's address.
    const inv = await inventory(file);
    const kh = new KnownHosts(sidecarPath(inv, 'known_hosts'));
    const plans = planConnections(inv, inv.hosts);
    expect(plans.get('pg1')!.jumps.map((h: Host) => h.name)).toEqual(['lb1']);
    expect(plans.get('lb1')!.jumps).toEqual([]);
    const lb1 = await connectPlanned(plans.get('lb1')!, kh);
    open.push(lb1);
    const before = await sshdPeersFromControl(lb1);
    const pgs = await Promise.all(BEHIND.map((n) => connectPlanned(plans.get(n)!, kh)));
    for (const [i, t] of pgs.entries()) {
      expect(await sh(t, 'cat /etc/pgha-demo/greeting')).toBe(
        `hello from ${BEHIND[i]} (${t.host.address}), cluster e2e-jump`,
      );
      expect((await sh(t, 'echo $SSH_CONNECTION')).split(' ')[0]).toBe(`${NET}.21`);
      expect(await sh(t, 'systemctl is-active pgha-demo')).toBe('active');
    }
    // Both postgres sessions run over a single extra connection to lb1.
    expect(await sshdPeersFromControl(lb1)).toBe(before + 1);
    for (const t of pgs) await t.close();
    // When the last session behind it closes, the jump connection closes too.
    let now = await sshdPeersFromControl(lb1);
    for (let i = 0; i < 50 && now !== before; i++) {
      await new Promise((res) => setTimeout(res, 200));
      now = await sshdPeersFromControl(lb1);
    }
    expect(now).toBe(before);
  });

  it('ProxyJump and IdentityFile from the ssh config named by PGHA_SSH_CONFIG', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-e2e-sshcfg-'));
    const config = join(dir, 'config');
    writeFileSync(
      config,
      [
        'Host pg1 pg2',
        `  ProxyJump root@${NET}.21:22`,
        `Host ${NET}.*`,
        `  IdentityFile ${await labKey()}`,
        'Host *',
        '  User root',
        '',
      ].join('\n'),
    );
    const file = staticInventory({ greeting: 'bonjour' });
    const r = await pgha(['run', 'demo', '-i', file], { env: { PGHA_SSH_CONFIG: config, SSH_AUTH_SOCK: '' } });
    expectOk(r, 'pgha run demo (ProxyJump from ssh config)');
    const greetings = r.json.changes
      .filter((c: { summary: string }) => c.summary === 'update /etc/pgha-demo/greeting')
      .map((c: { host: string }) => c.host);
    expect(greetings.sort()).toEqual(['lb1', 'pg1', 'pg2']);
    expect([...r.json.totals.restarted].sort()).toEqual(['lb1:pgha-demo', 'pg1:pgha-demo', 'pg2:pgha-demo']);
    // Without the ssh config the same inventory has no key and no way through: it fails.
    const without = await pgha(['run', 'demo', '-i', file], {
      env: { PGHA_SSH_CONFIG: join(dir, 'empty'), SSH_AUTH_SOCK: '' },
    });
    expect(without.code).toBe(2);
    expect(without.json.error.message).toMatch(/PGHA_SSH_CONFIG.*does not exist/);
  });

  it('a key with a passphrase works through ssh-agent (also for the jump host), and without an agent is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-e2e-agent-'));
    // A new key protected by a passphrase, authorized on the three hosts over the lab key.
    const pass = randomBytes(12).toString('hex');
    const pair = createRequire(import.meta.url)('ssh2').utils.generateKeyPairSync('ed25519', {
      passphrase: pass,
      cipher: 'aes256-ctr',
      rounds: 16,
      comment: 'pgha-e2e-agent',
    });
    const key = join(dir, 'id_encrypted');
    writeFileSync(key, pair.private, { mode: 0o600 });
    const setup = staticInventory({ ssh: `{key_file: ${await labKey()}, jump: lb1}`, greeting: 'bonjour' });
    const setupInv = await inventory(setup);
    const plans = planConnections(setupInv, setupInv.hosts);
    const kh = new KnownHosts(sidecarPath(setupInv, 'known_hosts'));
    for (const h of setupInv.hosts) {
      const t = await connectPlanned(plans.get(h.name)!, kh);
      await sh(t, `echo '${pair.public}' >> /root/.ssh/authorized_keys`);
      await t.close();
    }
    const file = staticInventory({ ssh: `{key_file: ${key}, jump: lb1}`, greeting: 'bonjour' });
    const refused = await pgha(['run', 'demo', '-i', file], { env: { SSH_AUTH_SOCK: '' } });
    expect(refused.code).toBe(2);
    const messages = refused.json.error.failures.map((f: { message: string }) => f.message);
    expect(messages).toContain(
      `lb1: SSH key file ${key} is protected by a passphrase and no ssh-agent is available (SSH_AUTH_SOCK is not set)`,
    );
    expect(refused.stdout).not.toContain(pass);

    // An agent of this test, the key loaded through an askpass program (the passphrase is never an argument).
    const sock = join(dir, 'agent.sock');
    const agentOut = execFileSync('ssh-agent', ['-s', '-a', sock], { encoding: 'utf8' });
    const agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(agentOut)![1]);
    try {
      const askpass = join(dir, 'askpass');
      writeFileSync(join(dir, 'pass'), pass, { mode: 0o600 });
      writeFileSync(askpass, `#!/bin/sh\ncat '${join(dir, 'pass')}'\n`, { mode: 0o700 });
      // ssh-add (OpenSSH 9.2) was once seen to fail with "error in libcrypto" on a busy machine and load the same
      // key on the next try: up to three tries, the last error thrown.
      for (let attempt = 1; ; attempt++) {
        try {
          execFileSync('ssh-add', [key], {
            env: {
              ...process.env,
              SSH_AUTH_SOCK: sock,
              SSH_ASKPASS: askpass,
              SSH_ASKPASS_REQUIRE: 'force',
              DISPLAY: ':0',
            },
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          break;
        } catch (e) {
          if (attempt === 3) throw e;
          console.log(`ssh-add try ${attempt} failed: ${String((e as { stderr?: unknown }).stderr ?? e).trim()}`);
        }
      }
      const r = await pgha(['run', 'demo', '-i', file], { env: { SSH_AUTH_SOCK: sock } });
      expectOk(r, 'pgha run demo (encrypted key in the agent)');
      expect(r.json.totals.changes).toBe(0);
      expect(Object.keys(r.json.roundTrips).sort()).toEqual(['lb1', 'pg1', 'pg2']);
    } finally {
      process.kill(agentPid, 'SIGTERM');
    }
  });

  it('errors name the hop that failed: the jump host itself, or the target from the jump host', async () => {
    const key = await labKey();
    const file = staticInventory({
      ssh: `{key_file: ${key}, jump: lb1}`,
      greeting: 'bonjour',
      pg1Ssh: `{jump: "root@${NET}.21:2222"}`,
      pg2Ssh: '{port: 2222}',
    });
    const r = await pgha(['run', 'demo', '-i', file]);
    expect(r.code).toBe(1);
    const failures = Object.fromEntries(
      r.json.error.failures.map((f: { host: string; message: string; hint: string }) => [f.host, f]),
    );
    expect(Object.keys(failures).sort()).toEqual(BEHIND);
    expect(failures.pg1.message).toMatch(
      new RegExp(`^pg1: cannot reach the jump host root@${NET}\\.21:2222: cannot reach root@${NET}\\.21:2222 over SSH`),
    );
    expect(failures.pg1.hint).toMatch(/the jump host must answer SSH from this machine/);
    expect(failures.pg2.message).toMatch(
      new RegExp(`^pg2: the jump host lb1 \\(root@${NET}\\.21:22\\) cannot reach ${NET}\\.12:2222`),
    );
    expect(failures.pg2.hint).toMatch(/check from it that/);
  });

  it('destroy removes the lab', async () => {
    for (const t of open.splice(0)) await t.close();
    healAll();
    const r = await pgha(['destroy', '-i', lab, '--yes']);
    expectOk(r, 'pgha destroy');
    expect(await labResourcesLeft(await inventory(lab))).toEqual([]);
  });
});
