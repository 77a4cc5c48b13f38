// The one-pass scan of a fake /proc for the lab's machines, and the SSH banner check against a loopback server.
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanLab, sshBanner, stateIn, waitSshBanner } from '../../../src/providers/lab/procs.js';
import type { LabHost } from '../../../src/providers/lab/machine.js';

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  for (const s of servers.splice(0)) s.close();
});

function fakeProc(d: string, pid: number, argv: string[], netIno: number | string, nspid: string) {
  const p = join(d, 'proc', String(pid));
  mkdirSync(join(p, 'ns'), { recursive: true });
  writeFileSync(join(p, 'cmdline'), argv.map((a) => a + '\0').join(''));
  symlinkSync(`net:[${netIno}]`, join(p, 'ns', 'net'));
  writeFileSync(join(p, 'status'), `Name:\tx\nNSpid:\t${nspid}\n`);
}

function host(d: string, name: string, machine: string): LabHost {
  return {
    name,
    address: '127.0.0.1',
    port: 22,
    machine,
    veth: `ve-${name}`,
    paths: { upper: join(d, name, 'upper') } as LabHost['paths'],
  };
}

describe('lab processes in one scan', () => {
  it("finds each machine's systemd-nspawn and init, and tells running, stopped and absent apart", () => {
    const d = mkdtempSync(join(tmpdir(), 'pgha-procs-'));
    dirs.push(d);
    mkdirSync(join(d, 'netns'));
    writeFileSync(join(d, 'netns', 'lab-a'), '');
    writeFileSync(join(d, 'netns', 'lab-b'), '');
    const inoA = statSync(join(d, 'netns', 'lab-a')).ino;
    const inoB = statSync(join(d, 'netns', 'lab-b')).ino;
    const nspawn = (m: string) => ['/usr/bin/systemd-nspawn', '--boot', '-D', '/x', '-M', m];
    fakeProc(d, 100, nspawn('lab-a'), 1, '100'); // nspawn runs in the host's namespace
    fakeProc(d, 101, ['/sbin/init'], inoA, '101 1'); // a's init
    fakeProc(d, 102, ['/usr/sbin/sshd'], inoA, '102 40');
    fakeProc(d, 200, ['/usr/sbin/sshd'], inoB, '200 7'); // b: a process but no init (stopping)
    fakeProc(d, 300, nspawn('lab-c'), 1, '300'); // c: nspawn only (starting)
    fakeProc(d, 400, nspawn('other'), 1, '400');
    const procs = scanLab(['lab-a', 'lab-b', 'lab-c', 'lab-d'], join(d, 'proc'), join(d, 'netns'));
    expect(procs.nspawn).toEqual(
      new Map([
        ['lab-a', [100]],
        ['lab-c', [300]],
      ]),
    );
    expect(procs.init).toEqual(new Map([['lab-a', 101]]));
    mkdirSync(join(d, 'b', 'upper'), { recursive: true });
    expect(stateIn(host(d, 'a', 'lab-a'), procs)).toEqual({ state: 'running', init: 101, detail: 'machine lab-a' });
    expect(stateIn(host(d, 'b', 'lab-b'), procs)).toEqual({ state: 'stopped', detail: 'machine lab-b' });
    expect(stateIn(host(d, 'c', 'lab-c'), procs).detail).toBe('machine lab-c (starting or stopping)');
    expect(stateIn(host(d, 'd', 'lab-d'), procs)).toEqual({ state: 'absent' });
  });

  it('an SSH banner counts as an answer, a silent or closing port does not', async () => {
    const listen = (onConn: (s: import('node:net').Socket) => void) =>
      new Promise<number>((resolve) => {
        const srv = createServer(onConn);
        servers.push(srv);
        srv.listen(0, '127.0.0.1', () => resolve((srv.address() as { port: number }).port));
      });
    const ssh = await listen((s) => s.write('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n'));
    const silent = await listen(() => undefined);
    const http = await listen((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    expect(await sshBanner('127.0.0.1', ssh, 2000)).toBe('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3');
    expect(await sshBanner('127.0.0.1', silent, 300)).toBeUndefined();
    expect(await sshBanner('127.0.0.1', http, 2000)).toBeUndefined();
    const h = { ...host('/nonexistent', 'a', 'lab-a'), port: silent };
    await expect(waitSshBanner(h, 1000)).rejects.toThrow(/did not answer on SSH within 1 s/);
    expect(await waitSshBanner({ ...h, port: ssh }, 5000)).toBeLessThan(5000);
  });
});
