// Benchmark: no-op runs of a small playbook on many hosts, pgha against Ansible.
// Usage: node dist/bench/scale.js [--sizes 5,20,50] [--rounds 3] [--out FILE.json] [--subnet 10.231.36.0/24]
//        [--cluster pgha-scale] [--dir DIR] [--keep]
// For each size it brings up a lab of that many hosts without roles (only sshd; the lab grows from one size to
// the next), converges once with each tool (not timed), then times --rounds no-op runs of each, pgha's under GNU
// time for its peak RSS. Prints a table and writes the figures as JSON. Destroys the lab at the end.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { hostname, cpus, loadavg } from 'node:os';
import { packageRoot } from '../src/engine/template.js';
import {
  ansibleInventory,
  ansibleNoopProblem,
  ansibleRecap,
  labHosts,
  parseGnuTime,
  pghaInventory,
  resultTable,
  stats,
  type SizeResult,
} from './scale-lib.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '5,20,50' },
    rounds: { type: 'string', default: '3' },
    out: { type: 'string', default: 'scale-bench.json' },
    subnet: { type: 'string', default: '10.231.36.0/24' },
    cluster: { type: 'string', default: 'pgha-scale' },
    dir: { type: 'string', default: '/var/tmp/pgha-scale-bench' },
    keep: { type: 'boolean', default: false },
  },
});
const sizes = (values.sizes as string).split(',').map(Number);
const rounds = Number(values.rounds);
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !(rounds >= 1))
  throw new Error('--sizes: comma-separated host counts; --rounds: 1 or more');
const root = packageRoot();
const cli = join(root, 'dist', 'src', 'cli', 'main.js');
const playbook = join(root, 'bench', 'scale', 'playbook.yml');
const ansibleDir = join(root, 'bench', 'ansible', 'small');
const dir = resolve(values.dir as string);
const inventory = join(dir, 'scale.yml');
const ansibleInv = join(dir, 'ansible-hosts.ini');
const log = (l: string) => process.stderr.write(`[scale] ${l}\n`);

function sh(cmd: string, args: string[], env?: NodeJS.ProcessEnv) {
  return spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 256 << 20 });
}

const installed = (pkg: string) => /install ok installed/.test(sh('dpkg-query', ['-W', '-f=${Status}', pkg]).stdout);

/** apt-get install, retried while another apt holds the lock (others share this machine). */
function aptInstall(pkgs: string[]): void {
  const missing = pkgs.filter((p) => !installed(p));
  if (!missing.length) return;
  log(`installing ${missing.join(' ')} with apt-get`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  for (let attempt = 1; ; attempt++) {
    const u = sh('apt-get', ['update', '-q'], env);
    const r = u.status === 0 ? sh('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...missing], env) : u;
    if (r.status === 0) return;
    const locked = /Could not get lock|Unable to acquire the dpkg frontend lock|is locked/.test(r.stderr);
    if (!locked || attempt >= 60) throw new Error(`apt-get failed:\n${r.stderr.slice(-2000)}`);
    log('apt is locked by another process; retrying in 5 s');
    spawnSync('sleep', ['5']);
  }
}

function pgha(args: string[], allowFail = false) {
  const r = sh(process.execPath, [cli, ...args], { CI: '1' });
  if (r.status !== 0 && !allowFail)
    throw new Error(`pgha ${args.join(' ')} failed (${r.status}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  return r;
}

/** One pgha run of the playbook under GNU time: wall seconds, changes, peak RSS, round trips. */
function pghaRun() {
  const timeFile = join(dir, 'time.out');
  const t0 = process.hrtime.bigint();
  const r = sh(
    '/usr/bin/time',
    ['-f', '%e %M', '-o', timeFile, process.execPath, cli, 'run', playbook, '-i', inventory, '--json'],
    {
      CI: '1',
    },
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0)
    throw new Error(`pgha run failed (${r.status}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  const j = JSON.parse(r.stdout) as { totals: { changes: number }; roundTrips?: Record<string, number> };
  const trips = Object.values(j.roundTrips ?? {});
  return {
    seconds,
    changes: j.totals.changes,
    maxRssKiB: parseGnuTime(readFileSync(timeFile, 'utf8')).maxRssKiB,
    roundTrips: trips.length ? { total: trips.reduce((a, b) => a + b, 0), maxPerHost: Math.max(...trips) } : undefined,
  };
}

function ansibleRun(hosts: number) {
  const t0 = process.hrtime.bigint();
  const r = sh(
    'ansible-playbook',
    ['-i', ansibleInv, '-f', String(Math.max(hosts, 5)), join(ansibleDir, 'playbook.yml')],
    {
      ANSIBLE_CONFIG: join(ansibleDir, 'ansible.cfg'),
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORCE_COLOR: '0',
    },
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const recap = ansibleRecap(r.stdout);
  return { seconds, status: r.status, recap, output: r.stdout.slice(-3000) + r.stderr.slice(-2000) };
}

function writeInventories(n: number) {
  const hosts = labHosts(n, values.subnet as string);
  writeFileSync(inventory, pghaInventory(values.cluster as string, values.subnet as string, hosts));
  const side = join(dir, '.pgha', 'scale');
  writeFileSync(
    ansibleInv,
    ansibleInventory(values.cluster as string, hosts, {
      key: join(side, 'id_ed25519'),
      knownHosts: join(side, 'known_hosts'),
    }),
  );
}

async function main() {
  aptInstall(['time', 'ansible']);
  mkdirSync(dir, { recursive: true });
  const results: SizeResult[] = [];
  const commit = sh('git', ['-C', root, 'rev-parse', '--short', 'HEAD']).stdout.trim() || 'unknown';
  const dirty = sh('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no']).stdout.trim() !== '';
  try {
    for (const n of [...sizes].sort((a, b) => a - b)) {
      writeInventories(n);
      log(`${n} hosts: pgha lab up`);
      const t0 = Date.now();
      pgha(['lab', 'up', '-i', inventory]);
      log(`${n} hosts up after ${((Date.now() - t0) / 1000).toFixed(0)} s; converging once with each tool`);
      const first = pghaRun();
      log(`pgha converge: ${first.seconds.toFixed(1)} s, ${first.changes} changes`);
      const a0 = ansibleRun(n);
      if (a0.status !== 0) throw new Error(`ansible-playbook failed to converge (${a0.status}):\n${a0.output}`);
      log(`Ansible converge: ${a0.seconds.toFixed(1)} s`);
      const r: SizeResult = { hosts: n, pgha: [], ansible: [], pghaMaxRssKiB: [], load1: [] };
      for (let i = 1; i <= rounds; i++) {
        // Alternating the tools spreads the machine's noise over both; the load average says how noisy it was.
        r.load1!.push(Number(loadavg()[0].toFixed(2)));
        const p = pghaRun();
        if (p.changes !== 0) throw new Error(`pgha no-op run ${i} on ${n} hosts changed ${p.changes} things`);
        r.pgha.push(p.seconds);
        r.pghaMaxRssKiB.push(p.maxRssKiB);
        if (p.roundTrips) r.pghaRoundTrips = p.roundTrips;
        const a = ansibleRun(n);
        const problem = a.status === 0 ? ansibleNoopProblem(a.recap, n) : `exit ${a.status}`;
        if (problem) throw new Error(`Ansible no-op run ${i} on ${n} hosts: ${problem}\n${a.output}`);
        r.ansible.push(a.seconds);
        log(
          `${n} hosts, round ${i}: pgha ${p.seconds.toFixed(2)} s (${(p.maxRssKiB / 1024).toFixed(0)} MiB), Ansible ${a.seconds.toFixed(2)} s`,
        );
      }
      results.push(r);
    }
  } finally {
    if (!values.keep && existsSync(inventory)) {
      log('destroying the lab');
      const d = pgha(['destroy', '-i', inventory, '--yes'], true);
      if (d.status !== 0) log(`destroy failed (${d.status}): ${d.stderr.slice(-1000)}`);
      else rmSync(dir, { recursive: true, force: true });
    }
  }
  const table = resultTable(results);
  const doc = {
    date: new Date().toISOString(),
    machine: { hostname: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model },
    commit: dirty ? `${commit} (with uncommitted changes)` : commit,
    rounds,
    playbooks: { pgha: 'bench/scale/playbook.yml', ansible: 'bench/ansible/small/playbook.yml' },
    ansible: sh('ansible-playbook', ['--version']).stdout.split('\n')[0],
    results: results.map((r) => ({
      ...r,
      pghaStats: stats(r.pgha),
      ansibleStats: stats(r.ansible),
      ratioOfMedians: stats(r.pgha).median / stats(r.ansible).median,
    })),
    table,
  };
  const out = resolve(values.out as string);
  writeFileSync(out, JSON.stringify(doc, null, 2) + '\n');
  console.log(table);
  console.log(`\nfigures: ${out}`);
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
