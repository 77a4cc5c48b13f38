// A Transport that runs scripts on this machine as SshTransport runs them on a host (the same command line,
// the script and its data on stdin, under `timeout`): lets tests drive the real probe/apply scripts against a
// temp directory without SSH.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runner } from '../../src/engine/runner.js';
import type { Host, Inventory } from '../../src/inventory/types.js';
import type { ExecOptions, ExecResult, Transport } from '../../src/engine/types.js';
import { remoteInvocation } from '../../src/engine/remote.js';

export class LocalTransport implements Transport {
  roundTrips = 0;
  readonly scripts: string[] = [];
  constructor(readonly host: Host) {}
  exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.roundTrips++;
    this.scripts.push(script);
    const { command, input } = remoteInvocation(script, {
      stdin: opts.stdin,
      timeoutMs: opts.timeoutMs ?? 600_000,
      sudo: false,
    });
    return new Promise((resolve) => {
      const p = spawn('sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (code) => resolve({ stdout, stderr, code: code ?? 255 }));
      p.stdin.on('error', () => undefined); // a shell that fails early may not read all of it
      p.stdin.end(input);
    });
  }
  async close() {}
}

export function fakeHost(name = 'h1', address = '10.0.0.1'): Host {
  return { name, address, roles: [], groups: [], ssh: { user: 'root', port: 22, become: false }, vars: {} };
}

/** An inventory of the given hosts in `dir` (cluster c, provider static), for runner-level tests. */
export function fakeInventory(dir: string, hosts: Host[]): Inventory {
  return {
    file: join(dir, 'inv.yml'),
    dir,
    cluster: 'c',
    subnet: '10.0.0.0/24',
    prefix: 24,
    provider: { type: 'static' },
    hosts,
    groups: { all: hosts.map((h) => h.name) },
    vars: {},
    warnings: [],
  };
}

/** A Runner over these transports (no secrets, no events unless given); notification records under `dir`/notify. */
export function testRunner(
  inv: Inventory,
  transports: Map<string, Transport>,
  o: {
    check?: boolean;
    diff?: boolean;
    secrets?: Record<string, string>;
    log?: (line: string, host?: string) => void;
    dir?: string;
  } = {},
): Runner {
  return new Runner({
    inventory: inv,
    secrets: o.secrets ?? {},
    transports,
    check: o.check ?? false,
    diff: o.diff ?? false,
    events: o.log ? { log: o.log } : {},
    pendingDir: join(o.dir ?? mkdtempSync(join(tmpdir(), 'pgha-runner-')), 'notify'),
  });
}
