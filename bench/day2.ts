// Benchmark: day-2 operations under a client load (writes through VIP:5001, reads through VIP:5010). N rounds
// each of a switchover (`pgha switchover --yes`, or Patroni's POST /switchover when pgha has no such command)
// and of a parameter change that needs a restart (shared_buffers toggled between two values in a copy of the
// inventory, then `pgha up -i COPY`: a rolling restart). Per round and as min/median/max: failed writes, failed
// reads, the longest time without an acknowledged write. Runs on a converged lab (pgha up first); at the end the
// cluster is brought back to the inventory's own shared_buffers.
// Usage: node dist/bench/day2.js [-i INVENTORY] [--rounds N] [--shared-buffers A,B] [--json]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { loadInventory } from '../src/inventory/load.js';
import { catalog } from '../src/components/index.js';
import { sidecarPath } from '../src/inventory/types.js';
import { patroniSettings } from '../src/components/patroni/settings.js';
import { packageRoot } from '../src/engine/template.js';
import { describeLoad, lostWrites, prepareLoad, startLoad, type LoadReport, type LoadTarget } from './load.js';
import { patroniGet } from './patroni-get.js';
import { copyInventory, hasSwitchoverCommand, restSwitchover, summarize, type Summary } from './day2-ops.js';

const { values } = parseArgs({
  options: {
    inventory: { type: 'string', short: 'i', default: 'inventory/lab.yml' },
    rounds: { type: 'string', default: '3' },
    'shared-buffers': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const file = values.inventory as string;
const rounds = Number(values.rounds);
const inv = loadInventory(file, catalog);
const members = inv.hosts.filter((h) => h.roles.includes('postgres'));
const patroni = patroniSettings(inv, members[0]);
const secrets = parse(readFileSync(sidecarPath(inv, 'secrets.yml'), 'utf8')) as Record<string, string>;
const target: LoadTarget = { host: inv.vip!, password: secrets.postgres_superuser_password, table: 'bench_day2' };
const cli = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
const log = (line: string) => (values.json ? process.stderr : process.stdout).write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const ownBuffers = String(patroni.pgParameters.shared_buffers ?? '128MB');
const [bufA, bufB] = values['shared-buffers']
  ? (values['shared-buffers'] as string).split(',')
  : [ownBuffers === '160MB' ? '128MB' : '160MB', ownBuffers];

function run(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args], { env: { ...process.env, CI: '1' } });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

interface Member {
  name: string;
  role: string;
  state: string;
}

async function cluster(): Promise<Member[]> {
  for (const h of members) {
    try {
      const r = await patroniGet(inv, h.address, '/cluster', { port: patroni.apiPort });
      if (r.ok) return ((await r.json()) as { members: Member[] }).members;
    } catch {
      /* next */
    }
  }
  return [];
}

/** Until one leader and every member running (bounded): the next round starts from a settled cluster. */
async function settled(timeoutMs = 120_000): Promise<Member[]> {
  const t0 = Date.now();
  for (;;) {
    const ms = await cluster();
    const ok =
      ms.length === members.length &&
      ms.filter((m) => m.role === 'leader').length === 1 &&
      ms.every((m) => m.state === 'running' || m.state === 'streaming');
    if (ok) return ms;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(`cluster not settled after ${timeoutMs / 1000} s: ${JSON.stringify(ms)}`);
    await sleep(1000);
  }
}

interface Round {
  round: number;
  detail: string;
  seconds: number;
  writesFailed: number;
  readsFailed: number;
  longestWriteGapS: number;
  lost: number;
}

/** Runs `op` under a fresh load (2 s before, 3 s after it and the cluster settling) and returns the figures. */
async function underLoad(round: number, op: () => Promise<string>): Promise<Round> {
  await settled();
  await prepareLoad(target);
  const load = startLoad(target);
  await sleep(2000);
  const t0 = Date.now();
  let detail = '';
  let failure: unknown;
  try {
    detail = await op();
  } catch (e) {
    failure = e;
  }
  const seconds = (Date.now() - t0) / 1000;
  if (!failure) await settled().catch((e) => (failure = e));
  await sleep(3000);
  const r: LoadReport = await load.stop();
  if (failure) throw failure;
  const lost = (await lostWrites(target, r.acked)).length;
  log(`  round ${round}: ${detail}, ${seconds.toFixed(1)} s: ${describeLoad(r)}, lost ${lost}`);
  return {
    round,
    detail,
    seconds,
    writesFailed: r.writesFailed,
    readsFailed: r.readsFailed,
    longestWriteGapS: r.longestWriteGapMs / 1000,
    lost,
  };
}

const viaCli = hasSwitchoverCommand(cli);
async function switchover(): Promise<string> {
  const leader = (await settled()).find((m) => m.role === 'leader')!.name;
  if (viaCli) {
    const r = await run(['switchover', '--yes', '-i', file]);
    if (r.code !== 0) throw new Error(`pgha switchover exited ${r.code}:\n${r.out.slice(-3000)}`);
  } else {
    const h = members.find((m) => m.name === leader)!;
    await restSwitchover({
      url: `http://${h.address}:${patroni.apiPort}`,
      leader,
      user: patroni.apiUser,
      password: secrets.patroni_api_password,
    });
  }
  // Done once another member leads and every member runs again.
  const t0 = Date.now();
  let now = leader;
  while (now === leader && Date.now() - t0 < 60_000) {
    now = (await cluster()).find((m) => m.role === 'leader')?.name ?? leader;
    if (now === leader) await sleep(500);
  }
  if (now === leader) throw new Error(`${leader} still leads 60 s after the switchover`);
  return `switchover ${leader} -> ${now}`;
}

const copy = copyInventory(file);
let changed = false;
async function restartChange(round: number): Promise<string> {
  changed = true;
  const value = round % 2 === 1 ? bufA : bufB;
  copy.setParameter('shared_buffers', value);
  const r = await run(['up', '-i', copy.file]);
  if (r.code !== 0) throw new Error(`pgha up -i ${copy.file} exited ${r.code}:\n${r.out.slice(-3000)}`);
  return `shared_buffers ${value}`;
}

const results: Record<string, Round[]> = { switchover: [], restart: [] };
try {
  log(
    `switchover through ${viaCli ? 'pgha switchover --yes' : "Patroni's POST /switchover (no pgha switchover here)"}`,
  );
  for (let i = 1; i <= rounds; i++) results.switchover.push(await underLoad(i, switchover));
  log(`shared_buffers change (rolling restart through pgha up), ${bufA} <-> ${bufB}`);
  for (let i = 1; i <= rounds; i++) results.restart.push(await underLoad(i, () => restartChange(i)));
} finally {
  copy.remove();
  // Back to the inventory's own settings (a no-op when the last round left them so).
  if (changed) {
    const r = await run(['up', '-i', file]);
    if (r.code !== 0) log(`pgha up -i ${file} (restoring shared_buffers) exited ${r.code}`);
  }
}

const fig = (rs: Round[]) => ({
  writesFailed: summarize(rs.map((r) => r.writesFailed)),
  readsFailed: summarize(rs.map((r) => r.readsFailed)),
  longestWriteGapS: summarize(rs.map((r) => r.longestWriteGapS)),
  lost: summarize(rs.map((r) => r.lost)),
});
const summary = { switchover: fig(results.switchover), restart: fig(results.restart) };
if (values.json) {
  const doc = { rounds, switchoverVia: viaCli ? 'pgha' : 'rest', sharedBuffers: [bufA, bufB], results, summary };
  console.log(JSON.stringify(doc, null, 2));
} else {
  const line = (s: Summary, digits = 0) =>
    `min ${s.min.toFixed(digits)}, median ${s.median.toFixed(digits)}, max ${s.max.toFixed(digits)}`;
  for (const [op, f] of Object.entries(summary))
    console.log(
      `${op} (${rounds} rounds): failed writes ${line(f.writesFailed)}; failed reads ${line(f.readsFailed)}; ` +
        `longest write gap (s) ${line(f.longestWriteGapS, 1)}; lost writes ${line(f.lost)}`,
    );
}
process.exit(0);
