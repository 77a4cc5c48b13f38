// The built CLI as a user runs it: exit codes (2 bad input, 1 a failed run, 130 interrupted), messages that
// name file, line and field or host, no stack traces, and the run lock (stale ones taken over, released on Ctrl-C).
// Only loopback is contacted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'pgha-cli-'));
const STACK = /^\s+at .+[(:]\d+/m;

interface Res {
  code: number | null;
  stdout: string;
  stderr: string;
}

function pgha(args: string[], started?: (p: ChildProcess) => void): Promise<Res> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], {
      cwd: dir,
      env: { ...process.env, CI: '1', SSH_AUTH_SOCK: '' },
    });
    started?.(p);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function inventoryFile(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

/** A static inventory of one host on loopback at `port`, with a throwaway key. */
function loopbackInventory(name: string, port: number): string {
  const key = join(dir, 'id_test');
  if (!existsSync(key)) spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  return inventoryFile(
    `${name}.yml`,
    [
      `cluster: ${name}`,
      'provider: static',
      'network: {subnet: 127.0.0.0/8}',
      `ssh: {user: root, port: ${port}, key_file: ${key}}`,
      'hosts:',
      '  db1: {address: 127.0.0.1, roles: [postgres, etcd]}',
      '',
    ].join('\n'),
  );
}

let silent: Server;
const held: Socket[] = [];
let silentPort = 0;

beforeAll(async () => {
  if (!existsSync(CLI)) spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  // Accepts TCP and never says a word: an SSH handshake that hangs.
  silent = createServer((s) => held.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentPort = (silent.address() as { port: number }).port;
}, 120_000);

afterAll(() => {
  for (const s of held) s.destroy();
  silent.close();
});

describe('pgha CLI: bad input exits 2 and names file, line and field', () => {
  it('an unknown key in a host', async () => {
    const f = inventoryFile(
      'unknown-key.yml',
      'cluster: bad\nprovider: static\nnetwork:\n  subnet: 10.0.0.0/24\nhosts:\n  pg1: {address: 10.0.0.11, roles: [postgres, etcd], colour: red}\n',
    );
    const r = await pgha(['up', '-i', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f}:6: hosts.pg1.colour: unknown key 'colour'`);
    expect(r.stderr).toMatch(/next: /);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stdout).toBe('');
    expect(existsSync(join(dir, '.pgha', 'unknown-key', 'lock'))).toBe(false);
  });

  it('YAML that does not parse', async () => {
    const f = inventoryFile('broken.yml', 'cluster: bad\nhosts: [\n');
    const r = await pgha(['plan', '-i', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`inventory ${f} is not valid YAML`);
    expect(r.stderr).toMatch(new RegExp(`${f.replace(/[.]/g, '\\.')}:\\d+: `));
    expect(r.stderr).not.toMatch(STACK);
  });

  it('--json carries the same location as data', async () => {
    const f = inventoryFile(
      'bad-role.yml',
      'cluster: bad\nprovider: static\nnetwork:\n  subnet: 10.0.0.0/24\nhosts:\n  pg1:\n    address: 10.0.0.11\n    roles: [postgres, etcd, dba]\n',
    );
    const r = await pgha(['up', '-i', f, '--json']);
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout);
    expect(doc.ok).toBe(false);
    expect(JSON.stringify(doc.error)).toContain(f);
    expect(JSON.stringify(doc.error)).toMatch(/"field":"hosts\.pg1\.roles\.2"/);
    expect(JSON.stringify(doc.error)).toMatch(/"line":8/);
  });

  it('a missing inventory, an unknown command, an unknown option', async () => {
    const missing = await pgha(['up', '-i', join(dir, 'nope.yml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.yml');
    expect((await pgha(['frobnicate'])).code).toBe(2);
    const opt = await pgha(['up', '--colour']);
    expect(opt.code).toBe(2);
    expect(opt.stderr).toContain('unknown option --colour');
  });
});

describe('pgha CLI: the command line', () => {
  it('--version, help, a bare pgha, options a command does not take', async () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const v = await pgha(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout).toBe(`${version}\n`);
    const help = await pgha(['plan', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples:\n {2}pgha plan/);
    const bare = await pgha([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/Usage: pgha <command>[\s\S]*error: pgha needs a command/);
    const check = await pgha(['status', '--check']);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain('error: unknown option --check for pgha status; see pgha status --help');
    expect(check.stderr).not.toMatch(STACK);
    const json = await pgha(['import', 'ansible', 'inv', '--limit', 'pg1', '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).error).toMatchObject({
      type: 'UserError',
      message: 'unknown option --limit for pgha import ansible; see pgha import ansible --help',
    });
  });

  it('completion prints a script for each shell, exit 0', async () => {
    for (const [shell, first] of [
      ['bash', '# bash completion for pgha'],
      ['zsh', '#compdef pgha'],
      ['fish', '# fish completion for pgha'],
    ]) {
      const r = await pgha(['completion', shell]);
      expect(r.code).toBe(0);
      expect(r.stdout.split('\n')[0]).toContain(first);
    }
  });
});

describe('pgha CLI: failed runs exit 1 naming the host; the lock', () => {
  it('a host that refuses SSH: exit 1, host and what to check; a stale lock of a killed run is taken over', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r())); // nothing listens there now
    const f = loopbackInventory('refused', port);
    const lock = join(dir, '.pgha', 'refused', 'lock');
    mkdirSync(dirname(lock), { recursive: true });
    // A run that was SIGKILLed: its pid is gone (pids are never this high), its lock stayed.
    writeFileSync(lock, JSON.stringify({ pid: 2 ** 22 + 12345, what: 'up', since: '2026-01-01T00:00:00Z' }));
    const r = await pgha(['up', '-i', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`db1: cannot reach root@127.0.0.1:${port} over SSH`);
    expect(r.stderr).toMatch(/next: check that the host is up/);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).not.toMatch(/another pgha run/);
    expect(existsSync(lock)).toBe(false);
    // The recap says the host was unreachable, in the JSON document too (which alone is on stdout).
    expect(r.stdout).toMatch(/recap:\n {2}db1 {2}ok=0 {2}changed=0 {2}failed=0 {2}unreachable=1/);
    const json = await pgha(['up', '-i', f, '--json']);
    expect(json.code).toBe(1);
    const doc = JSON.parse(json.stdout);
    expect(doc.recap).toEqual({ db1: { ok: 0, changed: 0, failed: 0, unreachable: 1 } });
    expect(doc.error.step).toBe('connect');
    expect(json.stderr).toContain('unreachable=1');
  });

  it('a lock held by a live run is bad input (exit 2) naming the holder', async () => {
    const f = loopbackInventory('busy', silentPort);
    const lock = join(dir, '.pgha', 'busy', 'lock');
    mkdirSync(dirname(lock), { recursive: true });
    writeFileSync(lock, JSON.stringify({ pid: process.pid, what: 'up', since: '2026-01-01T00:00:00Z' }));
    // The live run: a process holding the flock on the file.
    const holder = spawn('flock', ['-xF', lock, 'sh', '-c', 'echo locked; exec sleep 60'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise((res) => holder.stdout!.once('data', res));
    const r = await pgha(['up', '-i', f]);
    holder.kill('SIGKILL');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`another pgha run (pid ${process.pid}, "up"`);
    expect(existsSync(lock)).toBe(true);
  });

  it('Ctrl-C: exit 130, says the run may be partial, and leaves no lock', async () => {
    const f = loopbackInventory('interrupted', silentPort);
    const lock = join(dir, '.pgha', 'interrupted', 'lock');
    const before = held.length;
    let child: ChildProcess | undefined;
    const p = pgha(['up', '-i', f], (c) => (child = c));
    // Interrupt once the run is inside the SSH handshake (the silent server got the connection).
    for (let i = 0; i < 200 && held.length === before; i++) await new Promise((r) => setTimeout(r, 50));
    expect(held.length).toBeGreaterThan(before);
    expect(existsSync(lock)).toBe(true);
    child!.kill('SIGINT');
    const r = await p;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/interrupted \(SIGINT\).*run it again to converge/);
    expect(r.stderr).not.toMatch(STACK);
    expect(existsSync(lock)).toBe(false);
  });
});
