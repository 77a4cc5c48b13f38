// SshTransport against an SSH server on loopback that runs what it is asked with a local sh: the command line
// the host sees, the script and its data on stdin, the host-side timeout, and the host-key rule.
import { afterAll, describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SshTransport } from '../../src/engine/transport.js';
import { KnownHosts } from '../../src/engine/knownhosts.js';
import { RemoteError, UserError } from '../../src/util/errors.js';
import type { Host } from '../../src/inventory/types.js';

const ssh2 = createRequire(import.meta.url)('ssh2') as any;
const dir = mkdtempSync(join(tmpdir(), 'pgha-transport-'));

function keygen(name: string, type: string): string {
  const f = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', f]);
  return f;
}
const clientKey = keygen('client', 'ed25519');
const servers: { close(): void }[] = [];
afterAll(() => servers.forEach((s) => s.close()));

/** An SSH server that accepts any key and runs each exec's command with sh here; it records the command lines. */
async function fakeHost(hostKeyFile: string): Promise<{ port: number; commands: string[] }> {
  const commands: string[] = [];
  const server = new ssh2.Server({ hostKeys: [readFileSync(hostKeyFile)] }, (client: any) => {
    client
      .on('authentication', (ctx: any) => ctx.accept())
      .on('ready', () => {
        client.on('session', (accept: any) => {
          accept().on('exec', (acceptExec: any, _reject: unknown, info: { command: string }) => {
            commands.push(info.command);
            const stream = acceptExec();
            const p = spawn('sh', ['-c', info.command]);
            stream.pipe(p.stdin);
            p.stdin.on('error', () => undefined);
            p.stdout.pipe(stream, { end: false });
            p.stderr.pipe(stream.stderr, { end: false });
            p.on('close', (code) => {
              stream.exit(code ?? 255);
              stream.end();
            });
          });
        });
      })
      .on('error', () => undefined);
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, commands };
}

const host = (port: number): Host => ({
  name: 'pg1',
  address: '127.0.0.1',
  roles: [],
  groups: [],
  vars: {},
  ssh: { user: 'root', port, become: false, keyFile: clientKey },
});

describe('SshTransport', () => {
  it('sends the script and its data on stdin: the host sees a fixed command line', async () => {
    const { port, commands } = await fakeHost(keygen('host1', 'ed25519'));
    const t = await SshTransport.connect(host(port), new KnownHosts(join(dir, 'kh1')));
    try {
      const secret = `s3cret-${process.pid}`;
      const r = await t.exec(`PGPASSWORD='${secret}' sh -c 'echo "pw=$PGPASSWORD"'\nread -r line\necho "data=$line"`, {
        stdin: `${secret}-data\n`,
        timeoutMs: 30_000,
      });
      expect(r).toEqual({ stdout: `pw=${secret}\ndata=${secret}-data`, stderr: '', code: 0 });
      expect((await t.exec('exit 3')).code).toBe(3);
      expect(commands).toEqual(['LC_ALL=C.UTF-8 timeout -k 5 30 sh -s', 'LC_ALL=C.UTF-8 timeout -k 5 600 sh -s']);
      // A script far over the size of a command-line argument takes the same way.
      const big = await t.exec(`: '${'x'.repeat(300_000)}'\necho big`);
      expect(big.stdout).toBe('big');
    } finally {
      await t.close();
    }
  });

  it('a command that outlives its time is stopped on the host, and reported as such', async () => {
    const { port } = await fakeHost(keygen('host2', 'ed25519'));
    const t = await SshTransport.connect(host(port), new KnownHosts(join(dir, 'kh2')));
    const pidFile = join(dir, 'sleeper');
    try {
      const err = await t.exec(`sleep 120 &\necho $! > ${pidFile}\nwait`, { timeoutMs: 1000 }).catch((e) => e);
      expect(err).toBeInstanceOf(RemoteError);
      expect(err.message).toBe('pg1: a remote command did not finish within 1 s and was stopped on the host');
      const pid = readFileSync(pidFile, 'utf8').trim();
      const running = () => {
        try {
          return !/^\d+ \(\S+\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
        } catch {
          return false;
        }
      };
      for (let i = 0; i < 100 && running(); i++) await new Promise((res) => setTimeout(res, 50));
      expect(running()).toBe(false);
      // A script's own exit 124 (its own `timeout`, well within the limit) is a plain exit code.
      expect((await t.exec('exit 124', { timeoutMs: 60_000 })).code).toBe(124);
    } finally {
      await t.close();
    }
  });

  it('refuses a host key of another type than the one recorded for the address', async () => {
    const kh = new KnownHosts(join(dir, 'kh3'));
    const first = await fakeHost(keygen('host3-ed', 'ed25519'));
    await (await SshTransport.connect(host(first.port), kh)).close();
    const pattern = `[127.0.0.1]:${first.port}`;
    expect(readFileSync(kh.file, 'utf8')).toContain(`${pattern} ssh-ed25519 `);
    // The same address later answers with an RSA key.
    const rsa = keygen('host3-rsa', 'rsa');
    const other = await fakeHost(rsa);
    const moved = readFileSync(kh.file, 'utf8').replace(pattern, `[127.0.0.1]:${other.port}`);
    const kh2 = new KnownHosts(join(dir, 'kh4'));
    writeFileSync(kh2.file, moved);
    const err = await SshTransport.connect(host(other.port), kh2).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.message).toMatch(/is not one recorded for it/);
    expect(readFileSync(kh2.file, 'utf8')).toBe(moved);
  });
});
