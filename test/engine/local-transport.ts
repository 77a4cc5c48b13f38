// A Transport that runs scripts on this machine with sh: lets tests drive the real probe/apply scripts
// against a temp directory without SSH.
import { spawn } from 'node:child_process';
import type { Host } from '../../src/inventory/types.js';
import type { ExecOptions, ExecResult, Transport } from '../../src/engine/types.js';

export class LocalTransport implements Transport {
  roundTrips = 0;
  readonly scripts: string[] = [];
  constructor(readonly host: Host) {}
  exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.roundTrips++;
    this.scripts.push(script);
    return new Promise((resolve) => {
      const p = spawn('sh', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (code) => resolve({ stdout, stderr, code: code ?? 255 }));
      p.stdin.on('error', () => undefined); // a script that does not read stdin may exit first
      p.stdin.end(opts.stdin ?? '');
    });
  }
  async close() {}
}

export function fakeHost(name = 'h1', address = '10.0.0.1'): Host {
  return { name, address, roles: [], groups: [], ssh: { user: 'root', port: 22, become: false }, vars: {} };
}
