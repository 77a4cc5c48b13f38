// exitAfterFlush: a long output to a parent's pipe arrives whole before the process exits, with the exit code.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = join(import.meta.dirname, '..', '..');
const EXIT = pathToFileURL(join(ROOT, 'dist', 'src', 'cli', 'exit.js')).href;

function child(exitLine: string): Promise<{ code: number | null; out: string; err: string }> {
  // 2 MB on stdout and 1 MB on stderr, far beyond what a socket between two processes buffers, then exit.
  const script = `
    const { exitAfterFlush } = await import(${JSON.stringify(EXIT)});
    const line = 'x'.repeat(99) + '\\n';
    for (let i = 0; i < 20000; i++) process.stdout.write(line);
    for (let i = 0; i < 10000; i++) process.stderr.write(line);
    process.stdout.write('last line\\n');
    ${exitLine}
  `;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', script]);
    let out = '';
    let err = '';
    // A slow reader: the child's writes queue up behind it.
    p.stdout.on('data', (d) => {
      out += d;
      p.stdout.pause();
      setTimeout(() => p.stdout.resume(), 1);
    });
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('exitAfterFlush', () => {
  it('exits with the code once everything written reached the parent', async () => {
    const r = await child('exitAfterFlush(3);');
    expect(r.code).toBe(3);
    expect(r.out.length).toBe(20000 * 100 + 'last line\n'.length);
    expect(r.out.endsWith('last line\n')).toBe(true);
    expect(r.err.length).toBe(10000 * 100);
  });
});
