// The day-2 benchmark's operations: which switchover it uses (a fake CLI), Patroni's POST /switchover (a fake
// REST API on loopback), the inventory copy that `pgha up` can run on (loaded as pgha loads it), the figures.
import { afterAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyInventory, hasSwitchoverCommand, restSwitchover, summarize } from '../../bench/day2-ops.js';
import { loadInventory } from '../../src/inventory/load.js';
import { catalog } from '../../src/components/index.js';
import { sidecarPath } from '../../src/inventory/types.js';
import { patroniSettings } from '../../src/components/patroni/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'pgha-day2-ops-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hasSwitchoverCommand', () => {
  it("is true only when `switchover --help` exits 0 with that command's own help", () => {
    const cli = join(dir, 'cli.mjs');
    writeFileSync(
      cli,
      `if (process.argv[2] === 'switchover' && process.argv[3] === '--help') console.log('Usage: pgha switchover [options]');\n` +
        `else process.exit(1);\n`,
    );
    expect(hasSwitchoverCommand(cli)).toBe(true);
    // A build without the command: the general help (exit 0), or an error.
    const general = join(dir, 'general.mjs');
    writeFileSync(general, `console.log('Usage: pgha <command> [options]\\n\\nCommands:\\n  up [options]');\n`);
    expect(hasSwitchoverCommand(general)).toBe(false);
    const old = join(dir, 'old.mjs');
    writeFileSync(old, `console.error("error: unknown command 'switchover'"); process.exit(2);\n`);
    expect(hasSwitchoverCommand(old)).toBe(false);
  });
});

describe('restSwitchover', () => {
  it('POSTs the leader with Basic auth and returns the answer; any other status than 200 is an error', async () => {
    const seen: { method?: string; url?: string; auth?: string; body: string }[] = [];
    let status = 200;
    const server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, body });
        res.writeHead(status).end(status === 200 ? 'Successfully switched over to "pg2"' : 'Switchover failed');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const o = { url, leader: 'pg1', user: 'patroni', password: 's3cret' };
      expect(await restSwitchover(o)).toBe('Successfully switched over to "pg2"');
      expect(seen[0]).toEqual({
        method: 'POST',
        url: '/switchover',
        auth: `Basic ${Buffer.from('patroni:s3cret').toString('base64')}`,
        body: JSON.stringify({ leader: 'pg1' }),
      });
      status = 412;
      await expect(restSwitchover(o)).rejects.toThrow('POST /switchover on pg1: HTTP 412: Switchover failed');
    } finally {
      server.close();
    }
  });
});

describe('copyInventory', () => {
  it('copies the inventory and the files beside it; a parameter set in the copy merges over the others', () => {
    const file = join(dir, 'lab.yml');
    writeFileSync(
      file,
      [
        '# the lab',
        'cluster: c1',
        'provider: lab',
        'network: {subnet: 10.9.0.0/24, vip: 10.9.0.100}',
        'vars:',
        '  postgres_parameters: {work_mem: 8MB}',
        'hosts:',
        '  pg1: {address: 10.9.0.11, roles: [postgres, etcd]}',
        '',
      ].join('\n'),
    );
    const side = join(dir, '.pgha', 'lab');
    mkdirSync(side, { recursive: true });
    writeFileSync(join(side, 'secrets.yml'), 'postgres_superuser_password: abc\n', { mode: 0o600 });
    writeFileSync(join(side, 'known_hosts'), '10.9.0.11 ssh-ed25519 AAAA\n');
    writeFileSync(join(side, 'lock'), '{}');
    const copy = copyInventory(file);
    expect(copy.file).toBe(join(dir, '.lab.day2-bench.yml'));
    copy.setParameter('shared_buffers', '160MB');
    const inv = loadInventory(copy.file, catalog);
    const params = patroniSettings(inv, inv.hosts[0]).pgParameters;
    expect([params.shared_buffers, params.work_mem, params.max_connections]).toEqual(['160MB', '8MB', 200]);
    expect(readFileSync(copy.file, 'utf8')).toMatch(/^# the lab\n/);
    expect(readFileSync(sidecarPath(inv, 'secrets.yml'), 'utf8')).toBe('postgres_superuser_password: abc\n');
    expect(readFileSync(sidecarPath(inv, 'known_hosts'), 'utf8')).toBe('10.9.0.11 ssh-ed25519 AAAA\n');
    expect(existsSync(sidecarPath(inv, 'lock'))).toBe(false);
    // The original is untouched.
    const own = loadInventory(file, catalog);
    expect(patroniSettings(own, own.hosts[0]).pgParameters.shared_buffers).toBe('128MB');
    copy.remove();
    expect([existsSync(copy.file), existsSync(join(dir, '.pgha', '.lab.day2-bench'))]).toEqual([false, false]);
    expect(existsSync(join(side, 'secrets.yml'))).toBe(true);
  });
});

describe('summarize', () => {
  it('gives min, median and max', () => {
    expect(summarize([3, 1, 2])).toEqual({ min: 1, median: 2, max: 3 });
    expect(summarize([0])).toEqual({ min: 0, median: 0, max: 0 });
  });
});
