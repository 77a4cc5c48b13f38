// Benchmark: wall time and SSH round trips of a no-op run (nothing to change) on a running lab.
// Usage: node dist/bench/noop.js [-i INVENTORY] [--playbook demo|cluster] [--runs N]
// It converges once first (not timed), then times N runs that must change nothing.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/engine/template.js';

const { values } = parseArgs({
  options: {
    inventory: { type: 'string', short: 'i', default: 'inventory/lab.yml' },
    playbook: { type: 'string', default: 'demo' },
    runs: { type: 'string', default: '5' },
  },
});
const cli = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
const args = values.playbook === 'cluster' ? ['up'] : ['run', values.playbook as string];

function run(): { seconds: number; changes: number; trips: Record<string, number> } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [cli, ...args, '-i', values.inventory as string, '--json'], {
    encoding: 'utf8',
    env: { ...process.env, CI: '1' },
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`pgha ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  const j = JSON.parse(r.stdout);
  return { seconds, changes: j.totals.changes, trips: j.roundTrips };
}

run();
const times: number[] = [];
let trips: Record<string, number> = {};
for (let i = 0; i < Number(values.runs); i++) {
  const r = run();
  if (r.changes !== 0) throw new Error(`run ${i + 1} was not a no-op: ${r.changes} changes`);
  times.push(r.seconds);
  trips = r.trips;
}
times.sort((a, b) => a - b);
const med = times[Math.floor(times.length / 2)];
const hosts = Object.keys(trips).length;
console.log(
  `no-op pgha ${args.join(' ')} on ${hosts} hosts, ${times.length} runs: min ${times[0].toFixed(2)} s, median ${med.toFixed(2)} s, max ${times[times.length - 1].toFixed(2)} s`,
);
console.log(
  `SSH round trips per host: ${Object.entries(trips)
    .map(([h, n]) => `${h}=${n}`)
    .join(' ')}`,
);
