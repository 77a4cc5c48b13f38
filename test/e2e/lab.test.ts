// The lab provider on real hosts: two Debian 12 machines on a bridge of their own, SSH, names, packages through
// the cache, idempotent up, down/destroy leaving nothing behind.
import { afterAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Host, Inventory } from '../../src/inventory/types.js';
import { sidecarPath } from '../../src/inventory/types.js';
import { findProcesses } from '../../src/providers/lab/sys.js';
import { vethName } from '../../src/providers/lab/render.js';
import {
  hardKillHost,
  labProvider,
  labResourcesLeft,
  labSshKey,
  startHost,
  stopHost,
} from '../../src/providers/lab/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pgha-lab-e2e-'));
const SUBNET = '10.231.7';

function host(name: string, address: string): Host {
  return {
    name,
    address,
    roles: ['etcd'],
    groups: ['etcd'],
    ssh: { user: 'root', port: 22, become: false, keyFile: sidecarPath({ file: join(dir, 'lab.yml') }, 'id_ed25519') },
    vars: {},
  };
}

const inv: Inventory = {
  file: join(dir, 'lab.yml'),
  dir,
  cluster: 'e2e-labprov',
  subnet: `${SUBNET}.0/24`,
  prefix: 24,
  provider: {
    type: 'lab',
    lab: { bridge: 'pgha-labprov', bridgeAddress: `${SUBNET}.1`, cachePort: 3142, stateDir: join(dir, 'state') },
  },
  hosts: [host('node1', `${SUBNET}.11`), host('node2', `${SUBNET}.12`)],
  groups: { all: ['node1', 'node2'], etcd: ['node1', 'node2'] },
  vars: {},
  warnings: [],
};

const logs: string[] = [];
const ctx = { check: false, log: (l: string) => logs.push(l) };

function ssh(
  h: Host,
  script: string,
  timeoutMs = 300_000,
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const args = [
    '-F',
    '/dev/null',
    '-i',
    labSshKey(inv),
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${sidecarPath(inv, 'known_hosts')}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'ConnectTimeout=5',
    `root@${h.address}`,
    script,
  ];
  return new Promise((resolve) => {
    execFile('ssh', args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : 255
        : 0;
      resolve({ code, stdout: stdout.trim(), stderr: stderr.trim(), ms: Date.now() - started });
    });
  });
}

const nspawnOfLab = () =>
  findProcesses((a) => /systemd-nspawn$/.test(a[0] ?? '') && a.some((x) => x.startsWith('e2e-labprov-')));

afterAll(async () => {
  await labProvider.destroy(inv, ctx);
}, 600_000);

describe('lab provider (real machines)', () => {
  it('check mode reports the hosts to create and touches nothing', async () => {
    const plan = await labProvider.up(inv, { check: true, log: () => undefined });
    expect(plan.filter((c) => c.action === 'create' && c.host !== 'lab').map((c) => c.host)).toEqual([
      'node1',
      'node2',
    ]);
    expect(await labResourcesLeft(inv)).toEqual([]);
    expect((await labProvider.status(inv)).map((s) => s.state)).toEqual(['absent', 'absent']);
  });

  it('up boots two hosts that answer over SSH', async () => {
    const started = Date.now();
    const changes = await labProvider.up(inv, ctx);
    const seconds = (Date.now() - started) / 1000;
    const image = changes.find((c) => c.summary.startsWith('base image'));
    console.log(
      `lab up (2 hosts): ${seconds.toFixed(1)} s${image ? `, including ${image.summary}` : ' (base image cached)'}`,
    );
    for (const c of changes) console.log(`  ${c.host}: ${c.action} ${c.summary}`);
    expect(
      changes
        .filter((c) => c.action === 'create' && c.host !== 'lab')
        .map((c) => c.host)
        .sort(),
    ).toEqual(['node1', 'node2']);
    expect((await labProvider.status(inv)).map((s) => s.state)).toEqual(['running', 'running']);
    const key = labSshKey(inv);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, '.pgha', 'lab')).mode & 0o777).toBe(0o700);
  });

  it('hosts run systemd, know their names and each other, and have their own host keys', async () => {
    const [a, b] = inv.hosts;
    for (const h of inv.hosts) {
      const state = await ssh(h, 'systemctl is-system-running --wait; true');
      expect(['running', 'degraded']).toContain(state.stdout);
      if (state.stdout === 'degraded')
        console.log(`${h.name} degraded: ${(await ssh(h, 'systemctl --failed --no-legend')).stdout}`);
      expect((await ssh(h, 'hostname')).stdout).toBe(h.name);
      expect((await ssh(h, 'getent hosts localhost')).stdout).toMatch(/^(127\.0\.0\.1|::1)\s+localhost/);
    }
    expect((await ssh(a, `ping -c1 -W2 ${b.name} >/dev/null && getent hosts ${b.name}`)).stdout).toMatch(
      new RegExp(`^${b.address.replace(/\./g, '\\.')}\\s+${b.name}$`),
    );
    expect(
      (
        await ssh(
          b,
          `python3 -c "import socket;s=socket.create_connection(('${a.name}',22),5);print(s.recv(64).decode().strip())"`,
        )
      ).stdout,
    ).toMatch(/^SSH-2.0-OpenSSH/);
    const keys = await Promise.all(
      inv.hosts.map(async (h) => (await ssh(h, 'cat /etc/ssh/ssh_host_ed25519_key.pub')).stdout.split(' ')[1]),
    );
    expect(keys[0]).not.toBe(keys[1]);
    const ids = await Promise.all(inv.hosts.map(async (h) => (await ssh(h, 'cat /etc/machine-id')).stdout));
    expect(ids[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(ids[0]).not.toBe(ids[1]);
    // No way out of the lab network: the control machine does not forward.
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim()).toBe('0');
  });

  it('apt-get installs through the package cache (cold, then warm on the other host)', async () => {
    const [a, b] = inv.hosts;
    const cold = await ssh(
      a,
      'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends hello >/dev/null && hello',
    );
    expect(cold.stderr).not.toMatch(/^E:/m);
    expect(cold.stdout).toBe('Hello, world!');
    const warm = await ssh(
      b,
      'apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends hello >/dev/null && hello',
    );
    expect(warm.stdout).toBe('Hello, world!');
    console.log(
      `apt-get update + install hello: first host ${(cold.ms / 1000).toFixed(1)} s, second host ${(warm.ms / 1000).toFixed(1)} s`,
    );
    expect((await ssh(a, 'cat /etc/apt/apt.conf.d/01pgha-proxy')).stdout).toBe(
      `Acquire::http::Proxy "http://${SUBNET}.1:3142";`,
    );
  });

  it('up again changes nothing', async () => {
    const started = Date.now();
    expect(await labProvider.up(inv, ctx)).toEqual([]);
    console.log(`no-op up: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(await labProvider.up(inv, { check: true, log: () => undefined })).toEqual([]);
  });

  it('a hard-killed host is down at once, and startHost brings it back with the same keys and packages', async () => {
    const [a, b] = inv.hosts;
    await hardKillHost(inv, a.name);
    expect((await labProvider.status(inv)).map((s) => s.state)).toEqual(['stopped', 'running']);
    expect(
      (
        await ssh(
          b,
          `python3 -c "import socket;socket.create_connection(('${a.address}',22),2)" 2>&1 || echo unreachable`,
        )
      ).stdout,
    ).toMatch(/unreachable/);
    const started = Date.now();
    await startHost(inv, a.name);
    console.log(`restart after hard kill: SSH after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect((await ssh(a, 'hello')).stdout).toBe('Hello, world!');
    // up repairs a host stopped behind its back, and reports only that.
    await stopHost(inv, b.name);
    const changes = await labProvider.up(inv, ctx);
    expect(changes.map((c) => `${c.host} ${c.action}`)).toEqual(['node2 start']);
  });

  it('down stops a machine whose systemd-nspawn was killed (the machine keeps running without it)', async () => {
    const [a] = inv.hosts;
    const [nspawn] = nspawnOfLab().filter((pid) =>
      readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`e2e-labprov-${a.name}\0`),
    );
    expect(nspawn).toBeGreaterThan(0);
    process.kill(nspawn, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    expect((await ssh(a, 'hostname')).stdout).toBe(a.name); // orphaned, still up
    expect((await labProvider.status(inv))[0]).toMatchObject({
      state: 'running',
      detail: expect.stringContaining('systemd-nspawn is gone'),
    });
  });

  it('down stops everything, keeps the disks; destroy removes them and the known host keys', async () => {
    const down = await labProvider.down(inv, ctx);
    expect(
      down
        .filter((c) => c.host !== 'lab')
        .map((c) => c.host)
        .sort(),
    ).toEqual(['node1', 'node2']);
    expect(await labResourcesLeft(inv)).toEqual([]);
    expect(nspawnOfLab()).toEqual([]);
    expect((await labProvider.status(inv)).map((s) => s.state)).toEqual(['stopped', 'stopped']);
    expect(await labProvider.down(inv, ctx)).toEqual([]);

    // What a run killed half-way through starting node2 leaves: a namespace with its veth pair, a mounted overlay,
    // a stale pid file. destroy must clear it all.
    const m = 'e2e-labprov-node2';
    const hd = join(dir, 'state', 'hosts', 'node2');
    const image = readFileSync(join(hd, 'lower'), 'utf8').trim();
    execFileSync('sh', [
      '-ec',
      [
        `ip netns add ${m}`,
        `ip link add ${vethName(m)} type veth peer name host0 netns ${m}`,
        `ip link add pgha-labprov type bridge`,
        `ip link set ${vethName(m)} master pgha-labprov`,
        `mount -t overlay overlay -o lowerdir=${image},upperdir=${hd}/upper,workdir=${hd}/work ${hd}/root`,
        `echo 999999 > ${hd}/nspawn.pid`,
      ].join('\n'),
    ]);
    expect((await labResourcesLeft(inv)).length).toBe(4);

    const destroyed = await labProvider.destroy(inv, ctx);
    expect(
      destroyed
        .filter((c) => c.action === 'delete')
        .map((c) => c.host)
        .sort(),
    ).toEqual(['lab', 'node1', 'node2']); // lab: the bridge
    expect(await labResourcesLeft(inv)).toEqual([]);
    expect(nspawnOfLab()).toEqual([]);
    expect(existsSync(join(dir, 'state'))).toBe(false);
    const kh = existsSync(sidecarPath(inv, 'known_hosts')) ? readFileSync(sidecarPath(inv, 'known_hosts'), 'utf8') : '';
    expect(kh).not.toContain(`${SUBNET}.1`);
    expect((await labProvider.status(inv)).map((s) => s.state)).toEqual(['absent', 'absent']);
    expect(await labProvider.destroy(inv, ctx)).toEqual([]);
  });
});
