// pgha validate and the inventory default, as a user runs them (the built CLI): a valid inventory is reported
// with its counts, a bad one with file, line and field (exit 2), and nothing is contacted or written. Only
// loopback is used: a listener there counts every connection pgha would make.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'pgha-validate-'));

interface Res {
  code: number | null;
  stdout: string;
  stderr: string;
}

function pgha(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Res> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? dir,
      env: { ...process.env, CI: '1', SSH_AUTH_SOCK: '', PGHA_INVENTORY: '', ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

let server: Server;
let port = 0;
let connections = 0;

beforeAll(async () => {
  if (!existsSync(CLI)) spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  server = createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
}, 120_000);

afterAll(() => server.close());

const STATIC = (name: string, address = '127.0.0.1') =>
  [
    `cluster: ${name}`,
    'provider: static',
    'network: {subnet: 127.0.0.0/8, vip: 127.0.0.100}',
    `ssh: {user: root, port: ${port}}`,
    'hosts:',
    `  pg1: {address: ${address}, roles: [postgres, etcd]}`,
    '  pg2: {address: 127.0.0.12, roles: [postgres, etcd]}',
    '  pg3: {address: 127.0.0.13, roles: [postgres, etcd]}',
    '  lb1: {address: 127.0.0.21, roles: [haproxy]}',
    '',
  ].join('\n');

describe('pgha validate', () => {
  it('a good inventory: "valid" with host and role counts, exit 0, no connection, nothing written beside it', async () => {
    const f = file('good.yml', STATIC('good'));
    const r = await pgha(['validate', '-i', f]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `valid: ${f}: cluster good, provider static, 4 hosts (3 etcd, 3 postgres, 1 haproxy), VIP 127.0.0.100; playbooks cluster (`,
    );
    expect(r.stdout).toMatch(/verify \(\d+ steps?\), demo \(1 step\)/);
    expect(connections).toBe(0);
    expect(existsSync(join(dir, '.pgha', 'good'))).toBe(false); // no lock, no secrets, no known_hosts
  });

  it('a Proxmox inventory whose API is on the listener, with no token secret set: validated without a connection', async () => {
    const text = readFileSync(join(ROOT, 'inventory', 'example-proxmox.yml'), 'utf8')
      .replace('host: pve1.example.net', 'host: 127.0.0.1')
      .replace('port: 8006', `port: ${port}`)
      .replace(/ca_file: .*/, 'ca_file: null');
    const f = file('pve.yml', text);
    const r = await pgha(['validate', '-i', f, '--json'], { env: { PGHA_PVE_TOKEN_SECRET: '' } });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({
      ok: true,
      cluster: 'billing',
      provider: 'proxmox',
      hosts: 6,
      roles: { etcd: 3, postgres: 3, haproxy: 2, backup: 1 },
    });
    expect(doc.playbooks.map((p: { name: string }) => p.name)).toEqual(['cluster', 'verify', 'demo']);
    expect(r.stderr).toMatch(/^valid: /); // the human line goes to stderr with --json
    expect(connections).toBe(0);
    expect(existsSync(join(dir, '.pgha'))).toBe(false);
  });

  it('a bad inventory: the same located errors as every command, exit 2', async () => {
    const f = file('bad.yml', STATIC('bad').replace('roles: [haproxy]', 'roles: [haproxy, dba]'));
    const [v, up] = await Promise.all([pgha(['validate', '-i', f]), pgha(['up', '-i', f])]);
    expect(v.code).toBe(2);
    expect(v.stderr).toContain(`${f}:9: hosts.lb1.roles.1`);
    expect(v.stdout).toBe('');
    expect(v.stderr).toBe(up.stderr);
  });

  it('--playbook names the playbooks to check; a bad one is located, and a missing one is bad input', async () => {
    const inv = file('pb.yml', STATIC('pb'));
    const good = file(
      'mine.yml',
      'name: mine\nplays:\n  - hosts: postgres\n    tasks:\n      - directory: {path: /tmp/x}\n',
    );
    const bad = file('typo.yml', 'name: typo\nplays:\n  - hosts: all\n    component: patroin\n');
    const ok = await pgha(['validate', '-i', inv, '--playbook', good]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/playbooks mine \(1 step\)$/m);
    const typo = await pgha(['validate', '-i', inv, '--playbook', 'demo', '--playbook', bad]);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain(`${bad}:4: plays.0.component: unknown component 'patroin': did you mean 'patroni'?`);
    const missing = await pgha(['validate', '-i', inv, '--playbook', 'nope']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('playbook nope not found');
  });

  it('--limit is checked too', async () => {
    const inv = file('limit.yml', STATIC('limit'));
    const r = await pgha(['validate', '-i', inv, '-l', 'pg9']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pg9');
  });
});

describe('the inventory when -i is not given', () => {
  it('PGHA_INVENTORY is the default for -i', async () => {
    const f = file('fromenv.yml', STATIC('fromenv'));
    const r = await pgha(['validate'], { env: { PGHA_INVENTORY: f } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`valid: ${f}: cluster fromenv`);
    const given = await pgha(['validate', '-i', file('given.yml', STATIC('given'))], { env: { PGHA_INVENTORY: f } });
    expect(given.stdout).toContain('cluster given');
  });

  it('./inventory/lab.yml in the current folder comes next', async () => {
    const here = mkdtempSync(join(tmpdir(), 'pgha-here-'));
    mkdirSync(join(here, 'inventory'));
    writeFileSync(join(here, 'inventory', 'lab.yml'), STATIC('here'));
    const r = await pgha(['validate'], { cwd: here });
    expect(r.stdout).toContain(`valid: ${join(here, 'inventory', 'lab.yml')}: cluster here`);
  });

  it('destroy from another folder never falls back to the inventory shipped with pgha: exit 2 and what to do', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'pgha-elsewhere-'));
    const r = await pgha(['destroy'], { cwd: elsewhere });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pgha destroy needs to be told which inventory: there is no inventory/lab.yml here');
    expect(r.stderr).toMatch(/next: give it with -i FILE \(or set PGHA_INVENTORY\)/);
    expect(readdirSync(elsewhere)).toEqual([]);
    const json = await pgha(['destroy', '--json'], { cwd: elsewhere });
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).error.message).toContain('needs to be told which inventory');
  });
});
