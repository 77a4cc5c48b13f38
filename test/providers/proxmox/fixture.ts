// Shared setup for the Proxmox provider tests: a simulator, loopback SSH listeners, an inventory pointing at both.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Host, Inventory, ProxmoxSettings } from '../../../src/inventory/types.js';
import { createProxmoxProvider } from '../../../src/providers/proxmox/index.js';
import type { ProviderChange } from '../../../src/providers/types.js';
import { PveSim, type SimOptions } from './sim/server.js';

export const KEY =
  'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGm2yq8v4Wc8bJ7o0o+Ck/9y3mRkq1cR7gYt0s3d7h1x admin@ctl:smartcard';

/** A TCP listener standing in for sshd on a loopback address. */
export async function sshListener(address: string): Promise<{ port: number; server: Server; accepted: () => number }> {
  let n = 0;
  const server = createServer((s) => {
    n++;
    s.on('error', () => {}); // the waiter closes at once after connecting
    s.end('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n');
  });
  await new Promise<void>((r) => server.listen(0, address, r));
  const addr = server.address();
  return { port: typeof addr === 'object' && addr ? addr.port : 0, server, accepted: () => n };
}

export function settings(sim: PveSim, over: Partial<ProxmoxSettings> = {}): ProxmoxSettings {
  return {
    api: {
      host: '127.0.0.1',
      port: sim.port,
      node: 'pve1',
      tokenId: sim.tokenId,
      tokenSecretEnv: 'PGHA_TEST_PVE_SECRET',
      verifyTls: true,
      caFile: sim.caFile,
    },
    nodes: [{ name: 'pve1' }],
    spread: true,
    ha: false,
    template: 9000,
    storage: 'local-lvm',
    bridge: 'vmbr0',
    nameserver: '10.77.0.1',
    tag: 'pgha-demo',
    maxParallelClones: 2,
    sshTimeoutSec: 5,
    defaults: { cores: 2, memory: 2048, diskGb: 20, user: 'debian', sshPublicKey: KEY },
    ...over,
  };
}

export function host(
  name: string,
  address: string,
  sshPort: number,
  over: Partial<NonNullable<Host['proxmox']>> = {},
): Host {
  return {
    name,
    address,
    roles: ['etcd', 'postgres'],
    groups: [],
    vars: {},
    ssh: { user: 'debian', port: sshPort, become: true },
    proxmox: {
      cores: 2,
      memory: 2048,
      diskGb: 20,
      ip: 'static',
      gateway: '127.0.0.1',
      user: 'debian',
      sshPublicKey: KEY,
      ...over,
    },
  };
}

/** An inventory in a folder of its own (its state file lives beside it, in .pgha/demo/). */
export function inventory(s: ProxmoxSettings, hosts: Host[]): Inventory {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-proxmox-test-'));
  return {
    file: join(dir, 'demo.yml'),
    dir,
    cluster: 'demo',
    subnet: '127.0.0.0/8',
    prefix: 8,
    provider: { type: 'proxmox', proxmox: s },
    hosts,
    groups: { all: hosts.map((h) => h.name) },
    vars: {},
    warnings: [],
  };
}

export interface World {
  sim: PveSim;
  inv: Inventory;
  listeners: Awaited<ReturnType<typeof sshListener>>[];
  log: string[];
  provider: ReturnType<typeof createProxmoxProvider>;
  up(check?: boolean): Promise<ProviderChange[]>;
  close(): Promise<void>;
}

/** Three hosts on 127.0.0.11-13, each with its own listener; the provider waits with fast polling. */
export async function world(simOpts: SimOptions = {}, over: Partial<ProxmoxSettings> = {}): Promise<World> {
  const sim = await new PveSim({ timeScale: 0.05, cloneMs: 4000, taskMs: 400, ...simOpts }).start();
  process.env['PGHA_TEST_PVE_SECRET'] = sim.secret;
  const listeners = await Promise.all(['127.0.0.11', '127.0.0.12', '127.0.0.13'].map(sshListener));
  const s = settings(sim, over);
  const inv = inventory(
    s,
    listeners.map((l, i) => host(`pg${i + 1}`, `127.0.0.1${i + 1}`, l.port)),
  );
  const log: string[] = [];
  const provider = createProxmoxProvider({ client: { backoffMs: 20, pollMs: 10 }, agentPollMs: 20 });
  return {
    sim,
    inv,
    listeners,
    log,
    provider,
    up: (check = false) => provider.up(inv, { check, log: (l) => log.push(l) }),
    close: async () => {
      await sim.close();
      rmSync(inv.dir, { recursive: true, force: true });
      for (const l of listeners) l.server.close();
    },
  };
}
