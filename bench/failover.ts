// Benchmark: seconds from a hard-killed leader to the first write through VIP:5001, and from HAProxy stopping
// on the VIP holder to the VIP answering on another host. Runs on a converged lab (pgha up first).
// Usage: node dist/bench/failover.js [-i INVENTORY] [--rounds N]
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { loadInventory } from '../src/inventory/load.js';
import { catalog } from '../src/components/index.js';
import { sidecarPath } from '../src/inventory/types.js';
import { patroniGet } from './patroni-get.js';
import { hardKillHost } from '../src/providers/lab/index.js';
import { packageRoot } from '../src/engine/template.js';
import { SshTransport } from '../src/engine/transport.js';
import { KnownHosts } from '../src/engine/knownhosts.js';

const { values } = parseArgs({
  options: {
    inventory: { type: 'string', short: 'i', default: 'inventory/lab.yml' },
    rounds: { type: 'string', default: '3' },
  },
});
const inv = loadInventory(values.inventory as string, catalog);
const vip = inv.vip!;
const password = (parse(readFileSync(sidecarPath(inv, 'secrets.yml'), 'utf8')) as Record<string, string>)
  .postgres_superuser_password;
const cli = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');

function psql(port: number, sql: string): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn(
      'psql',
      ['-X', '-At', '-h', vip, '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-c', sql],
      { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '2' }, stdio: 'ignore' },
    );
    const timer = setTimeout(() => p.kill('SIGKILL'), 3000);
    p.on('close', (code) => (clearTimeout(timer), resolve(code === 0)));
  });
}

/** GET /cluster of a member: over HTTPS with the inventory's CA when it has one (tls_enabled), else plain HTTP. */
function clusterOf(address: string): Promise<unknown> {
  return patroniGet(inv, address, '/cluster').then((r) => r.json());
}

async function leader(): Promise<string | undefined> {
  for (const h of inv.hosts.filter((x) => x.roles.includes('postgres'))) {
    try {
      const m = ((await clusterOf(h.address)) as { members: { name: string; role: string }[] }).members.find(
        (x) => x.role === 'leader',
      );
      if (m) return m.name;
    } catch {
      /* next */
    }
  }
  return undefined;
}

function converge(): void {
  const r = spawnSync(process.execPath, [cli, 'up', '-i', values.inventory as string], {
    stdio: 'ignore',
    env: { ...process.env, CI: '1' },
  });
  if (r.status !== 0) throw new Error('pgha up did not converge the lab again');
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0].toFixed(1)} s, median ${s[Math.floor(s.length / 2)].toFixed(1)} s, max ${s[s.length - 1].toFixed(1)} s (${s.length} rounds)`;
};

const failover: number[] = [];
const vipMove: number[] = [];
const kh = new KnownHosts(sidecarPath(inv, 'known_hosts'));
for (let round = 0; round < Number(values.rounds); round++) {
  converge();
  await psql(5001, 'create table if not exists bench_failover(id serial primary key, at timestamptz default now())');
  const l = await leader();
  if (!l) throw new Error('no leader');
  await hardKillHost(inv, l);
  const t0 = Date.now();
  while (!(await psql(5001, 'insert into bench_failover default values')) && Date.now() - t0 < 120_000)
    await new Promise((r) => setTimeout(r, 100));
  failover.push((Date.now() - t0) / 1000);
  converge(); // starts the killed machine again and lets it rejoin

  const lbs = inv.hosts.filter((h) => h.roles.includes('haproxy'));
  const conns = await Promise.all(lbs.map((h) => SshTransport.connect(h, kh)));
  const holds = async (t: SshTransport) =>
    (await t.exec(`ip -4 -o addr show | grep -c ' ${vip}/' || true`)).stdout.trim() !== '0';
  const holder = (await Promise.all(conns.map(holds))).findIndex(Boolean);
  await conns[holder].exec('systemctl stop haproxy');
  const t1 = Date.now();
  while (Date.now() - t1 < 60_000) {
    const moved = await holds(conns[1 - holder]);
    if (moved && (await psql(5001, 'select 1'))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  vipMove.push((Date.now() - t1) / 1000);
  await conns[holder].exec('systemctl start haproxy');
  await Promise.all(conns.map((c) => c.close()));
  console.log(
    `round ${round + 1}: leader ${l} killed -> write after ${failover.at(-1)!.toFixed(1)} s; HAProxy stopped -> VIP moved and 5001 answers after ${vipMove.at(-1)!.toFixed(1)} s`,
  );
}
console.log(`leader hard-killed -> first write through VIP:5001: ${stats(failover)}`);
console.log(`HAProxy stopped on the VIP holder -> VIP on the other host and VIP:5001 answering: ${stats(vipMove)}`);
process.exit(0);
