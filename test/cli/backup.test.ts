// pgha backup and pgha backups as a user runs them (the built CLI), on inventories that need no host: backups off
// is a clear error (exit 2) before any connection, and --type takes full, diff or incr only.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'pgha-backup-cli-'));

function pgha(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], {
      cwd: dir,
      env: { ...process.env, CI: '1', SSH_AUTH_SOCK: '', PGHA_INVENTORY: '' },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// Addresses in TEST-NET-1: nothing answers there, and nothing may be contacted before the error.
const INVENTORY = `cluster: nobackup
provider: static
network: {subnet: 192.0.2.0/24, vip: 192.0.2.100}
hosts:
  lb1: {address: 192.0.2.21, roles: [haproxy]}
  pg1: {address: 192.0.2.11, roles: [postgres, etcd]}
  pg2: {address: 192.0.2.12, roles: [postgres, etcd]}
  pg3: {address: 192.0.2.13, roles: [postgres, etcd]}
`;

beforeAll(() => {
  if (!existsSync(CLI)) spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
}, 120_000);

describe('pgha backup / backups', () => {
  it('without a backup host both refuse with a clear message (exit 2), contacting nothing', async () => {
    const f = join(dir, 'nobackup.yml');
    writeFileSync(f, INVENTORY);
    for (const args of [['backups'], ['backup', '--type', 'diff']]) {
      const t0 = Date.now();
      const r = await pgha([...args, '-i', f]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/no host of .*nobackup\.yml has the backup role: backups are off/);
      expect(r.stderr).toMatch(/give the role backup to a repository host/);
      expect(Date.now() - t0).toBeLessThan(15_000); // no SSH attempt to the unreachable addresses
    }
    expect(existsSync(join(dir, '.pgha'))).toBe(false); // no secrets, no CA written
  });

  it('--type takes full, diff or incr', async () => {
    const r = await pgha(['backup', '--type', 'weekly']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/weekly.*(full, diff, incr|Allowed choices)/s);
  });
});
