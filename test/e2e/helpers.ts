// End-to-end helpers: run the built CLI as a user would, and look at lab hosts over SSH.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadInventory } from '../../src/inventory/load.js';
import { catalog } from '../../src/components/index.js';
import type { Inventory } from '../../src/inventory/types.js';
import { sidecarPath } from '../../src/inventory/types.js';
import { SshTransport } from '../../src/engine/transport.js';
import { KnownHosts } from '../../src/engine/knownhosts.js';
import { patroniGet, type PatroniAnswer } from '../../bench/patroni-get.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
  seconds: number;
}

/** Run `pgha ARGS --json` (the built CLI) and parse its JSON document. */
export function pgha(
  args: string[],
  opts: { json?: boolean; env?: NodeJS.ProcessEnv; signalAfterMs?: { signal: NodeJS.Signals; ms: number } } = {},
): Promise<CliResult> {
  const json = opts.json ?? true;
  const started = Date.now();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args, ...(json ? ['--json'] : [])], {
      cwd: ROOT,
      env: { ...process.env, ...opts.env, CI: '1' },
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    if (opts.signalAfterMs) setTimeout(() => p.kill(opts.signalAfterMs!.signal), opts.signalAfterMs.ms);
    p.on('close', (code, signal) => {
      let parsed: any;
      try {
        parsed = json ? JSON.parse(stdout) : undefined;
      } catch {
        parsed = undefined;
      }
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout,
        stderr,
        json: parsed,
        seconds: (Date.now() - started) / 1000,
      });
    });
  });
}

/** Copy a fixture inventory to a temp dir (its state files stay there), optionally editing its text. */
export function tempInventory(fixture: string, edit?: (text: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-e2e-'));
  const file = join(dir, fixture.split('/').pop()!);
  copyFileSync(join(ROOT, 'test', 'e2e', 'fixtures', fixture), file);
  if (edit) writeFileSync(file, edit(readFileSync(file, 'utf8')));
  return file;
}

export async function inventory(file: string): Promise<Inventory> {
  return loadInventory(file, catalog);
}

/** Open SSH to every host of an inventory (as pgha does, with its key and known_hosts). */
export async function connect(inv: Inventory): Promise<Map<string, SshTransport>> {
  const kh = new KnownHosts(sidecarPath(inv, 'known_hosts'));
  const m = new Map<string, SshTransport>();
  await Promise.all(inv.hosts.map(async (h) => m.set(h.name, await SshTransport.connect(h, kh))));
  return m;
}

export async function sh(t: SshTransport, script: string): Promise<string> {
  const r = await t.exec(script);
  if (r.code !== 0) throw new Error(`${t.host.name}: ${script}: exit ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

export function expectOk(r: CliResult, what: string): void {
  if (r.code !== 0)
    throw new Error(`${what} exited ${r.code}\nstdout:\n${r.stdout.slice(-4000)}\nstderr:\n${r.stderr.slice(-4000)}`);
}

/** GET on a member's Patroni REST API from this machine (HTTPS with the inventory's CA when it has one). */
export function patroniFetch(file: string, address: string, path: string, timeoutMs = 2000): Promise<PatroniAnswer> {
  return patroniGet({ file }, address, path, { timeoutMs });
}

/** The Authorization header of the HAProxy stats page (user admin, password from the inventory's secrets file). */
export function statsAuth(inv: Inventory): Record<string, string> {
  const secrets = parse(readFileSync(sidecarPath(inv, 'secrets.yml'), 'utf8')) as Record<string, string>;
  const pw = secrets.haproxy_stats_password ?? '';
  return { Authorization: `Basic ${Buffer.from(`admin:${pw}`).toString('base64')}` };
}
