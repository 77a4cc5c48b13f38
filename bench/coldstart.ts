// Benchmark: cold start of the built CLI. Times, over N runs each: `pgha --version`, `pgha validate` of the lab
// inventory, and a `pgha plan` from the spawn of Node to its first SSH connection attempt, which lands on a
// loopback TCP port of this script that accepts and closes (so the plan stops there, unreachable).
// Usage: node dist/bench/coldstart.js [--runs N] [--cli PATH/TO/main.js]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { packageRoot } from '../src/engine/template.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    cli: { type: 'string' },
  },
});
const runs = Number(values.runs);
const cli = values.cli ?? join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
const env: NodeJS.ProcessEnv = { ...process.env, CI: '1', PGHA_TRACE_START: '1' };
delete env.SSH_AUTH_SOCK;
delete env.PGHA_INVENTORY;

interface Run {
  /** Milliseconds from spawn to exit, or to the first connection on the port when one is awaited. */
  ms: number;
  /** The CLI's own figure (process.uptime() at its first SSH connect), when it prints one. */
  traceMs?: number;
  stderr: string;
  code: number | null;
}

function once(args: string[], firstConnect?: Promise<bigint>): Promise<Run> {
  return new Promise((resolve, reject) => {
    let connected: bigint | undefined;
    firstConnect?.then((t) => (connected = t));
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const end = firstConnect ? connected : process.hrtime.bigint();
      if (end === undefined) return reject(new Error(`pgha ${args.join(' ')} never connected:\n${stderr}`));
      const m = /first SSH connect at ([\d.]+) ms/.exec(stderr);
      resolve({ ms: Number(end - t0) / 1e6, traceMs: m ? Number(m[1]) : undefined, stderr, code });
    });
  });
}

/** A loopback port that accepts and closes every connection; `next()` resolves at the next one's arrival. */
async function acceptAndClose() {
  let waiter: ((t: bigint) => void) | undefined;
  const server = createServer((s) => {
    waiter?.(process.hrtime.bigint());
    waiter = undefined;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    next: () => new Promise<bigint>((r) => (waiter = r)),
    close: () => new Promise((r) => server.close(r)),
  };
}

function summary(label: string, xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (v: number) => v.toFixed(0).padStart(5);
  return `${label.padEnd(44)} min ${f(s[0])} ms  median ${f(s[Math.floor(s.length / 2)])} ms  max ${f(s[s.length - 1])} ms`;
}

async function series(
  label: string,
  args: string[],
  expect: number,
  port?: Awaited<ReturnType<typeof acceptAndClose>>,
) {
  const ms: number[] = [];
  const trace: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await once(args, port?.next());
    if (r.code !== expect)
      throw new Error(`pgha ${args.join(' ')} exited ${r.code} (expected ${expect}):\n${r.stderr}`);
    ms.push(r.ms);
    if (r.traceMs !== undefined) trace.push(r.traceMs);
  }
  console.log(summary(label, ms));
  if (trace.length === runs) console.log(summary(`  same, inside the process (process.uptime)`, trace));
}

const dir = mkdtempSync(join(tmpdir(), 'pgha-coldstart-'));
const port = await acceptAndClose();
try {
  const inventory = join(dir, 'bench.yml');
  writeFileSync(
    inventory,
    [
      'cluster: coldstart',
      'provider: static',
      'network: {subnet: 127.0.0.0/8}',
      `ssh: {user: root, port: ${port.port}}`,
      'hosts:',
      '  db1: {address: 127.0.0.1, roles: [postgres, etcd]}',
      '',
    ].join('\n'),
  );
  console.log(`cold start of ${cli}, ${runs} runs each (Node ${process.version})`);
  await series('pgha --version (to exit)', ['--version'], 0);
  await series(
    'pgha validate -i inventory/lab.yml (to exit)',
    ['validate', '-i', join(packageRoot(), 'inventory', 'lab.yml')],
    0,
  );
  await series('pgha plan (to the first SSH connection)', ['plan', '-i', inventory], 1, port);
} finally {
  await port.close();
  rmSync(dir, { recursive: true, force: true });
}
