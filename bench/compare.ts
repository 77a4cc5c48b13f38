// Benchmark: pgha against Ansible building the same 5-host cluster (bench/ansible/site.yml), on freshly rebuilt lab
// hosts of one inventory used in turn (same addresses, same package cache). Each round, for each tool: bare hosts
// (pgha destroy, then pgha lab up), a fresh bootstrap to a verified cluster, a no-op run, and a change (one HAProxy
// setting and one reload-only PostgreSQL parameter). Ansible goes first in each round, so pgha's cluster of the last
// round is still up for the cluster figures: bench/failover.ts and bench/day2.ts, once each.
// Prints a table (min / median / max per scenario and tool, ratio of the medians) and writes the figures as JSON.
// Usage: node dist/bench/compare.js [--rounds N] [--out FILE] [--subnet 10.231.34.0/24] [--cluster pgha-bench-a]
//        [--no-cluster-figures] [--no-warmup] [--keep]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { packageRoot } from '../src/engine/template.js';
import { loadInventory } from '../src/inventory/load.js';
import { catalog } from '../src/components/index.js';
import { sidecarPath } from '../src/inventory/types.js';
import { ansibleInventory, newSecrets } from './ansible-inventory.js';
import {
  BASE_VARS,
  CHANGED_VARS,
  benchInventory,
  parseRecap,
  parseTaskTimes,
  pghaProfile,
  recapTotals,
  rows,
  table,
  type ChangeVars,
  type PghaProfile,
  type Scenario,
  type Times,
} from './compare-lib.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    out: { type: 'string' },
    subnet: { type: 'string', default: '10.231.34.0/24' },
    cluster: { type: 'string', default: 'pgha-bench-a' },
    'no-cluster-figures': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    'no-warmup': { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds wants a whole number >= 1');
const root = packageRoot();
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const playbookDir = join(root, 'bench', 'ansible');
const work = join(root, 'bench', '.work');
mkdirSync(work, { recursive: true });
const invFile = join(work, `${values.cluster}.yml`);
const ansibleInvFile = join(work, `${values.cluster}.ansible.yml`);
const started = new Date();
const out = resolve(values.out ?? join(root, 'bench', 'results', `compare-${started.toISOString().slice(0, 10)}.json`));
const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Ran> {
  const t0 = process.hrtime.bigint();
  return new Promise((done) => {
    const p = spawn(cmd, args, { env: { ...process.env, CI: '1', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) =>
      done({ code: code ?? 1, stdout, stderr, seconds: Number(process.hrtime.bigint() - t0) / 1e9 }),
    );
  });
}

const tail = (r: Ran) => `${r.stdout.slice(-2500)}\n${r.stderr.slice(-2500)}`;
const pgha = (args: string[]) => run(process.execPath, [cli, ...args, '-i', invFile]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Debian's ansible package on this machine, installed when missing (apt may be locked by others for a while). */
async function ensureAnsible(): Promise<string> {
  const v = () => spawnSync('ansible-playbook', ['--version'], { encoding: 'utf8' });
  let r = v();
  for (let i = 0; r.status !== 0 && i < 10; i++) {
    log(`installing Debian's ansible package (try ${i + 1})`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const up = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=120', 'update', '-q'], { env, stdio: 'ignore' });
    const inst = spawnSync(
      'apt-get',
      ['-o', 'DPkg::Lock::Timeout=120', 'install', '-y', '-q', '--no-install-recommends', 'ansible'],
      { env, stdio: 'ignore' },
    );
    if (up.status !== 0 || inst.status !== 0) await sleep(10_000);
    r = v();
  }
  if (r.status !== 0) throw new Error('ansible-playbook is missing and apt-get could not install it');
  return r.stdout.split('\n')[0]!.trim();
}

function writeInventory(v: ChangeVars) {
  writeFileSync(invFile, benchInventory(values.cluster as string, values.subnet as string, v));
}

/** Bare hosts: the inventory's machines destroyed and made again, nothing installed. Not part of the figures. */
async function bareHosts(): Promise<number> {
  writeInventory(BASE_VARS);
  const d = await pgha(['destroy', '--yes']);
  if (d.code !== 0) throw new Error(`pgha destroy exited ${d.code}:\n${tail(d)}`);
  let seconds = d.seconds;
  // A machine that fails to boot on a busy machine (e.g. "Too many open files") is started again by a second try.
  for (let i = 0; ; i++) {
    const u = await pgha(['lab', 'up']);
    seconds += u.seconds;
    if (u.code === 0) return seconds;
    if (i === 2) throw new Error(`pgha lab up exited ${u.code}:\n${tail(u)}`);
    log(`pgha lab up exited ${u.code}; again`);
    await sleep(5000);
  }
}

const times: Times = {
  pgha: { bootstrap: [], noop: [], change: [] },
  ansible: { bootstrap: [], noop: [], change: [] },
};
const pghaRuns: { round: number; scenario: Scenario; profile: PghaProfile }[] = [];
const ansibleRuns: {
  round: number;
  scenario: Scenario;
  changed: number;
  ok: number;
  tasks: { task: string; seconds: number }[];
}[] = [];
const hostSeconds: number[] = [];

async function pghaUp(round: number, scenario: Scenario, wantChanges: boolean) {
  const r = await pgha(['up', '--json']);
  if (r.code !== 0) throw new Error(`pgha up (${scenario}, round ${round}) exited ${r.code}:\n${tail(r)}`);
  const profile = pghaProfile(JSON.parse(r.stdout));
  if (wantChanges !== profile.changes > 0)
    throw new Error(
      `pgha up (${scenario}, round ${round}): ${profile.changes} changes, expected ${wantChanges ? 'some' : 'none'}`,
    );
  times.pgha[scenario].push(r.seconds);
  pghaRuns.push({ round, scenario, profile });
  writeDoc(); // every figure is kept, should a later run fail or the benchmark be stopped
  log(`pgha ${scenario}: ${r.seconds.toFixed(1)} s, ${profile.changes} changes`);
}

async function ansibleUp(round: number, scenario: Scenario, wantChanges: boolean, controlPath: string) {
  const r = await run('ansible-playbook', ['-i', ansibleInvFile, join(playbookDir, 'site.yml')], {
    ANSIBLE_CONFIG: join(playbookDir, 'ansible.cfg'),
    ANSIBLE_SSH_CONTROL_PATH: controlPath,
    ANSIBLE_NOCOLOR: '1',
    ANSIBLE_FORCE_COLOR: '0',
  });
  const t = recapTotals(parseRecap(r.stdout));
  if (r.code !== 0 || t.failed || t.unreachable || t.hosts !== 5)
    throw new Error(`ansible-playbook (${scenario}, round ${round}) exited ${r.code}:\n${tail(r)}`);
  if (wantChanges !== t.changed > 0)
    throw new Error(
      `ansible-playbook (${scenario}, round ${round}): changed=${t.changed}, expected ${wantChanges ? 'some' : 'none'}`,
    );
  times.ansible[scenario].push(r.seconds);
  ansibleRuns.push({ round, scenario, changed: t.changed, ok: t.ok, tasks: parseTaskTimes(r.stdout).slice(0, 15) });
  writeDoc();
  log(`ansible ${scenario}: ${r.seconds.toFixed(1)} s, changed=${t.changed}`);
}

function writeAnsibleInventory(v: ChangeVars, secrets: ReturnType<typeof newSecrets>) {
  writeInventory(v);
  const inv = loadInventory(invFile, catalog);
  writeFileSync(ansibleInvFile, stringify(ansibleInventory(inv, secrets, sidecarPath(inv, 'id_ed25519'))));
}

async function ansibleRound(round: number) {
  hostSeconds.push(await bareHosts());
  const secrets = newSecrets();
  // A control socket of its own per round: the hosts of the last round are gone.
  const controlPath = `/tmp/pgha-bench-ansible-${process.pid}-${round}-%%C`;
  writeAnsibleInventory(BASE_VARS, secrets);
  await ansibleUp(round, 'bootstrap', true, controlPath);
  await ansibleUp(round, 'noop', false, controlPath);
  writeAnsibleInventory(CHANGED_VARS, secrets);
  await ansibleUp(round, 'change', true, controlPath);
}

async function pghaRound(round: number) {
  hostSeconds.push(await bareHosts());
  await pghaUp(round, 'bootstrap', true);
  await pghaUp(round, 'noop', false);
  writeInventory(CHANGED_VARS);
  await pghaUp(round, 'change', true);
}

/** failover.ts and day2.ts on pgha's cluster, one round each. */
async function clusterFigures() {
  const res: Record<string, unknown> = {};
  const f = await run(process.execPath, [join(root, 'dist', 'bench', 'failover.js'), '-i', invFile, '--rounds', '1']);
  const kill = /leader \S+ killed -> write after ([\d.]+) s/.exec(f.stdout);
  const vip = /HAProxy stopped -> VIP moved and 5001 answers after ([\d.]+) s/.exec(f.stdout);
  res.failover =
    f.code === 0 && kill && vip
      ? { leaderKilledToWriteS: Number(kill[1]), haproxyStoppedToVipS: Number(vip[1]) }
      : { error: `failover.js exited ${f.code}`, output: tail(f) };
  log(`failover: ${JSON.stringify(res.failover)}`);
  const d = await run(process.execPath, [
    join(root, 'dist', 'bench', 'day2.js'),
    '-i',
    invFile,
    '--rounds',
    '1',
    '--json',
  ]);
  try {
    if (d.code !== 0) throw new Error();
    const j = JSON.parse(d.stdout) as { summary: Record<string, unknown>; switchoverVia: string };
    res.day2 = { switchoverVia: j.switchoverVia, summary: j.summary };
  } catch {
    res.day2 = { error: `day2.js exited ${d.code}`, output: tail(d) };
  }
  log(`day2: ${JSON.stringify(res.day2)}`);
  return res;
}

const ansibleVersion = await ensureAnsible();
const commit = spawnSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
log(`${rounds} rounds, pgha ${commit}, ${ansibleVersion}, inventory ${invFile}`);
let cluster: Record<string, unknown> | undefined;
let failure: string | undefined;
try {
  if (!values['no-warmup']) {
    // Untimed: fills the lab's package cache with what both tools install (Ansible's apt module adds python3-apt).
    log('warm-up: one untimed Ansible bootstrap (fills the package cache)');
    await bareHosts();
    writeAnsibleInventory(BASE_VARS, newSecrets());
    const w = await run('ansible-playbook', ['-i', ansibleInvFile, join(playbookDir, 'site.yml')], {
      ANSIBLE_CONFIG: join(playbookDir, 'ansible.cfg'),
      ANSIBLE_SSH_CONTROL_PATH: `/tmp/pgha-bench-ansible-${process.pid}-0-%%C`,
    });
    if (w.code !== 0) throw new Error(`warm-up ansible-playbook exited ${w.code}:\n${tail(w)}`);
  }
  for (let round = 1; round <= rounds; round++) {
    log(`round ${round}: Ansible`);
    await ansibleRound(round);
    log(`round ${round}: pgha`);
    await pghaRound(round);
    writeDoc(); // the figures so far, should a later round fail
  }
  if (!values['no-cluster-figures']) cluster = await clusterFigures();
} catch (e) {
  failure = e instanceof Error ? e.message : String(e);
  log(`stopped: ${failure}`);
} finally {
  if (!values.keep && existsSync(invFile)) {
    const d = await pgha(['destroy', '--yes']);
    if (d.code !== 0) log(`pgha destroy exited ${d.code}`);
  }
}

function writeDoc() {
  const doc = {
    date: started.toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavgAtEnd: loadavg() },
    pghaCommit: commit,
    ansible: ansibleVersion,
    hosts: 5,
    rounds,
    completedRounds: Math.min(times.pgha.change.length, times.ansible.change.length),
    ...(failure ? { failure } : {}),
    seconds: times,
    summary: rows(times),
    bareHostsSeconds: hostSeconds,
    pghaRuns,
    ansibleRuns,
    ...(cluster ? { cluster } : {}),
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
}

writeDoc();
const rs = rows(times);
console.log(table(rs));
if (cluster) console.log(`\npgha's cluster: ${JSON.stringify(cluster)}`);
console.log(`\nfigures: ${out}`);
process.exit(failure ? 1 : 0);
