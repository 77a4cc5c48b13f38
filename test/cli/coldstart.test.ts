// The built CLI loads only what a command needs: a module-resolution hook (node --import) records every module
// the process resolves, ES modules and CommonJS alike, and the tests look at that list.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

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
function loaded(args: string[]): { code: number | null; stdout: string; modules: string[] } {
  const out = join(dir, `loaded-${++runs}.txt`);
  writeFileSync(out, '');
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(join(dir, 'register.mjs')).href, CLI, ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, CI: '1', SSH_AUTH_SOCK: '', PGHA_INVENTORY: '', LOADED_OUT: out },
  });
  const modules = [...new Set(readFileSync(out, 'utf8').split('\n').filter(Boolean))];
  return { code: r.status, stdout: r.stdout, modules };
}

const matching = (modules: string[], re: RegExp) => modules.filter((m) => re.test(m));

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
});
