// The command line and stdin SshTransport sends, run against a local sh: what the host's process list shows,
// what the script and its data read, and that `timeout` ends the whole script on the host.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { TIMED_OUT_CODES, remoteInvocation } from '../../src/engine/remote.js';

function runLocally(script: string, opts: { stdin?: string; timeoutMs?: number } = {}) {
  const inv = remoteInvocation(script, { stdin: opts.stdin, timeoutMs: opts.timeoutMs ?? 60_000, sudo: false });
  return new Promise<{ stdout: string; stderr: string; code: number | null; command: string }>((resolve) => {
    const p = spawn('sh', ['-c', inv.command]);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ stdout, stderr, code, command: inv.command }));
    p.stdin.end(inv.input);
  });
}

const SECRET = `pw-'"$x\\\`y-${process.pid}`;

describe('remote invocation', () => {
  it('puts nothing of the script or its data on the command line', () => {
    const inv = remoteInvocation(`PGPASSWORD='${SECRET}' psql -c 'select 1'`, {
      stdin: SECRET,
      timeoutMs: 90_500,
      sudo: true,
    });
    expect(inv.command).toBe('LC_ALL=C.UTF-8 sudo -n timeout -k 5 91 sh -s');
    expect(remoteInvocation('x', { timeoutMs: 1000, sudo: false }).command).toBe('LC_ALL=C.UTF-8 timeout -k 5 1 sh -s');
  });

  it('runs the script from stdin, exit code and all; the data reaches the script as its stdin, exactly', async () => {
    const d = mkdtempSync(join(tmpdir(), 'pgha-remote-'));
    const r = await runLocally(`cat > ${d}/got\necho "ran as $(id -u)"\nexit 7`, {
      stdin: `{"password": "${SECRET}"}\nline two\n`,
    });
    expect(r.code).toBe(7);
    expect(r.stdout).toBe(`ran as ${process.getuid!()}\n`);
    expect(readFileSync(join(d, 'got'), 'utf8')).toBe(`{"password": "${SECRET}"}\nline two\n`);
    const noNewline = await runLocally(`cat > ${d}/got2`, { stdin: 'no final newline' });
    expect(noNewline.code).toBe(0);
    expect(readFileSync(join(d, 'got2'), 'utf8')).toBe('no final newline\n');
    const looksLikeEnd = await runLocally('cat', { stdin: 'PGHA_IN_\n}\nEOF\n' });
    expect(looksLikeEnd.stdout).toBe('PGHA_IN_\n}\nEOF\n');
  });

  it('a command that reads stdin gets nothing, never the rest of the script', async () => {
    const r = await runLocally('read line || echo "stdin empty"\ncat\necho after');
    expect(r.stdout).toBe('stdin empty\nafter\n');
  });

  it('a script cut short runs not at all', async () => {
    const inv = remoteInvocation('echo first\necho second', { timeoutMs: 60_000, sudo: false });
    const r = await new Promise<{ stdout: string; code: number | null }>((resolve) => {
      const p = spawn('sh', ['-c', inv.command]);
      let stdout = '';
      p.stdout.on('data', (x) => (stdout += x));
      p.on('close', (code) => resolve({ stdout, code }));
      p.stdin.end(inv.input.slice(0, inv.input.indexOf('echo second')));
    });
    expect(r.stdout).toBe('');
    expect(r.code).not.toBe(0);
  });

  it('on timeout, ends the script and every process it started on the host', async () => {
    const d = mkdtempSync(join(tmpdir(), 'pgha-remote-'));
    const r = await runLocally(`sleep 300 &\necho $! > ${d}/child\necho $$ > ${d}/shell\nwait`, { timeoutMs: 1000 });
    expect(TIMED_OUT_CODES).toContain(r.code);
    // Gone, or at most a zombie waiting for its reaper: not running (a signalled process may take a moment).
    const running = (pid: string) => {
      const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
      return stat !== '' && !/^\d+ \(\S+\) [ZX]/.test(stat);
    };
    for (const f of ['child', 'shell']) {
      const pid = readFileSync(join(d, f), 'utf8').trim();
      for (let i = 0; i < 100 && running(pid); i++) await new Promise((res) => setTimeout(res, 50));
      expect([f, running(pid)]).toEqual([f, false]);
    }
  });
});
