// --limit on the commands that create, stop or delete hosts, and rebuild's refusals, through the built CLI: every
// refusal is exit 2 and comes before anything is touched. The inventories are static, on loopback: nothing boots.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'pgha-limit-'));
const inv = join(dir, 'static.yml');

function pgha(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: dir,
    env: { ...process.env, CI: '1', SSH_AUTH_SOCK: '', PGHA_INVENTORY: '' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  if (!existsSync(CLI)) spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: 'inherit' });
  writeFileSync(
    inv,
    [
      'cluster: limits',
      'provider: static',
      'network: {subnet: 127.0.0.0/8}',
      'hosts:',
      '  db1: {address: 127.0.0.1, roles: [postgres, etcd]}',
      '  db2: {address: 127.0.0.2, roles: [postgres, etcd]}',
      '',
    ].join('\n'),
  );
});

describe('a --limit that matches no host is bad input for every command', () => {
  const commands = [
    ['up'],
    ['plan'],
    ['destroy', '--yes'],
    ['rebuild', '--yes'],
    ['lab', 'up'],
    ['lab', 'down', '--yes'],
  ];
  for (const cmd of commands) {
    it(`pgha ${cmd.join(' ')} --limit nope`, () => {
      const r = pgha([...cmd, '-i', inv, '--limit', 'nope']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("--limit: no host or group named 'nope'");
    });
  }

  it('exclusions that leave nothing are refused too (destroy, lab down)', () => {
    for (const cmd of [
      ['destroy', '--yes'],
      ['lab', 'down', '--yes'],
    ]) {
      const r = pgha([...cmd, '-i', inv, '-l', '!db1,!db2']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--limit !db1,!db2 selects no host');
    }
  });

  it('a near miss is named', () => {
    const r = pgha(['destroy', '-i', inv, '--limit', 'db3', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("did you mean 'db1'?");
  });
});

describe('pgha rebuild', () => {
  it('is refused on provider static, with and without --limit, and says why', () => {
    for (const extra of [[], ['--limit', 'db2']]) {
      const r = pgha(['rebuild', '-i', inv, '--yes', ...extra]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('pgha rebuild: ');
      expect(r.stderr).toContain('uses provider static');
      expect(r.stderr).toContain('provider lab or proxmox');
    }
  });

  it('never picks an inventory by itself', () => {
    const r = pgha(['rebuild', '--yes']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pgha rebuild needs to be told which inventory');
  });

  it('is listed in the help with examples', () => {
    const r = pgha(['rebuild', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples:\n {2}pgha rebuild -i inventory\/lab.yml/);
    expect(r.stdout).toContain('--limit');
    expect(pgha(['--help']).stdout).toMatch(
      /rebuild \[options\]\s+destroy\s+the\s+hosts\s+and\s+bring\s+the\s+cluster\s+up\s+again/,
    );
  });
});
