// The built CLI loads only what a command needs: a module-resolution hook (node --import) records every module
// the process resolves, ES modules and CommonJS alike, and the tests look at that list.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createServer, type AddressInfo } from 'node:net';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'pgha-coldstart-'));

const HOOKS = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(process.env.LOADED_OUT, r.url + '\\n');
  return r;
}
`;
const REGISTER = `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => appendFileSync(process.env.LOADED_OUT, Object.keys(cache).join('\\n') + '\\n'));
`;

let runs = 0;

/** Runs the built CLI; its exit code and the modules it loaded (paths and URLs, one each). */
function loaded(
  args: string[],
  env: Record<string, string> = {},
): { code: number | null; stdout: string; stderr: string; modules: string[] } {
  const out = join(dir, `loaded-${++runs}.txt`);
  writeFileSync(out, '');
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, CLI, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, CI: '1', SSH_AUTH_SOCK: '', PGHA_INVENTORY: '', LOADED_OUT: out, ...env },
  });
  const modules = [...new Set(readFileSync(out, 'utf8').split('\n').filter(Boolean))];
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, modules };
}

const matching = (modules: string[], re: RegExp) => modules.filter((m) => re.test(m));

/** A loopback port nothing listens on (connections to it are refused at once). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** An inventory file in the temp folder. */
function inventory(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, [...lines, ''].join('\n'));
  return file;
}

const PROXMOX = /node_modules\/(proxmox-api|undici)\/|dist\/src\/providers\/proxmox\//;

beforeAll(() => {
  if (!existsSync(CLI)) spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  writeFileSync(join(dir, 'hooks.mjs'), HOOKS);
  writeFileSync(join(dir, 'register.mjs'), REGISTER);
});

describe('cold start', () => {
  it('validate of a lab inventory loads no Proxmox client, no SSH client and no provider', () => {
    const r = loaded(['validate', '-i', join(ROOT, 'inventory', 'lab.yml')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('provider lab');
    // The record is complete enough to see what validate does need: its command, the schema validator, YAML.
    expect(matching(r.modules, /dist\/src\/cli\/commands\/validate\.js$/)).toHaveLength(1);
    expect(matching(r.modules, /node_modules\/ajv\//).length).toBeGreaterThan(0);
    expect(matching(r.modules, /node_modules\/yaml\//).length).toBeGreaterThan(0);
    expect(matching(r.modules, /providers\/(proxmox|lab)\/|node_modules\/(proxmox-api|undici|zx)\//)).toEqual([]);
    expect(matching(r.modules, /node_modules\/(node-ssh|ssh2|listr2|diff|handlebars)\//)).toEqual([]);
    expect(matching(r.modules, /dist\/src\/cli\/commands\/(?!validate\.js)/)).toEqual([]);
  });

  it('--version loads the command line parser only', () => {
    const r = loaded(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(matching(r.modules, /node_modules\/commander\//).length).toBeGreaterThan(0);
    expect(matching(r.modules, /dist\/src\/(cli\/commands|components|inventory|playbook|providers)\//)).toEqual([]);
    expect(matching(r.modules, /dist\/src\/engine\/(?!(mask|template)\.js$)/)).toEqual([]);
    expect(matching(r.modules, /node_modules\/(?!commander\/)/)).toEqual([]);
  });

  it('plan of a static inventory, to its first (refused) SSH connection: no Proxmox client, no lab, no listr2', async () => {
    const port = await closedPort();
    const inv = inventory('static.yml', [
      'cluster: coldstart',
      'provider: static',
      'network: {subnet: 127.0.0.0/8}',
      `ssh: {user: root, port: ${port}}`,
      'hosts:',
      '  db1: {address: 127.0.0.1, roles: [postgres, etcd]}',
    ]);
    const r = loaded(['plan', '-i', inv]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach root@127.0.0.1:${port}`);
    // It got as far as SSH: the engine, the components and the SSH client are there.
    expect(matching(r.modules, /dist\/src\/engine\/runner\.js$/)).toHaveLength(1);
    expect(matching(r.modules, /dist\/src\/providers\/static\/index\.js$/)).toHaveLength(1);
    expect(matching(r.modules, /node_modules\/ssh2\//).length).toBeGreaterThan(0);
    expect(matching(r.modules, PROXMOX)).toEqual([]);
    expect(matching(r.modules, /dist\/src\/providers\/lab\/|node_modules\/(zx|listr2)\//)).toEqual([]);
  });

  it('plan of a lab inventory loads the lab provider, and no Proxmox client', () => {
    const inv = inventory('lab.yml', [
      'cluster: pgha-coldstart',
      'provider: lab',
      'network: {subnet: 10.231.33.0/24, vip: 10.231.33.100}',
      'hosts:',
      '  pg1: {address: 10.231.33.71, roles: [postgres, etcd]}',
    ]);
    const r = loaded(['plan', '-i', inv]);
    expect(r.code).toBe(0); // nothing exists: the plan says what would be created
    expect(matching(r.modules, /dist\/src\/providers\/lab\/index\.js$/)).toHaveLength(1);
    expect(matching(r.modules, PROXMOX)).toEqual([]);
    expect(matching(r.modules, /node_modules\/listr2\//)).toEqual([]); // no terminal here
  });

  it('plan of a Proxmox inventory loads the Proxmox client', async () => {
    const port = await closedPort();
    const inv = inventory('pve.yml', [
      'cluster: coldpve',
      'provider:',
      '  type: proxmox',
      '  proxmox:',
      `    api: {host: 127.0.0.1, port: ${port}, node: pve1, token_id: 'root@pam!pgha', token_secret_env: PGHA_COLD_SECRET}`,
      '    template: 9000',
      '    storage: local-lvm',
      '    bridge: vmbr0',
      'network: {subnet: 10.231.33.0/24}',
      'hosts:',
      '  db1: {address: 10.231.33.72, roles: [postgres, etcd]}',
    ]);
    const r = loaded(['plan', '-i', inv], { PGHA_COLD_SECRET: '00000000-0000-4000-8000-000000000000' });
    expect(r.code).not.toBe(0); // the API does not answer
    expect(matching(r.modules, /node_modules\/proxmox-api\//).length).toBeGreaterThan(0);
    expect(matching(r.modules, /dist\/src\/providers\/proxmox\/index\.js$/)).toHaveLength(1);
    expect(matching(r.modules, /dist\/src\/providers\/lab\//)).toEqual([]);
  });
});
