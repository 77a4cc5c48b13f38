// One base-image builder at a time, through the same flock as the run lock: a waiting builder goes on when the
// holder ends, stops waiting when the image appears, and gives up after its deadline naming the holder.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { IMAGE_MARKER, takeBuildLock } from '../../../src/providers/lab/image.js';

import { ProviderError } from '../../../src/util/errors.js';

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** Another builder holding the lock for `seconds`; resolves once it holds it. */
function otherBuilder(file: string, seconds: number): Promise<ChildProcess> {
  const c = spawn('flock', ['-xF', file, 'sh', '-c', `echo locked; exec sleep ${seconds}`], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  children.push(c);
  return new Promise((res, rej) => {
    c.stdout!.once('data', () => res(c));
    c.once('exit', (code) => rej(new Error(`flock exited ${code}`)));
  });
}

function paths() {
  const root = mkdtempSync(join(tmpdir(), 'pgha-image-lock-'));
  return { lock: join(root, 'img.lock'), dir: join(root, 'img') };
}

describe('base image build lock', () => {
  it('is taken at once when free, and free again after release', async () => {
    const { lock, dir } = paths();
    const release = await takeBuildLock(lock, dir, 5_000);
    expect(release).toBeTypeOf('function');
    release!();
    const again = await takeBuildLock(lock, dir, 5_000);
    expect(again).toBeTypeOf('function');
    again!();
  });

  it('waits for another builder and takes the lock when it ends', async () => {
    const { lock, dir } = paths();
    await otherBuilder(lock, 1);
    const release = await takeBuildLock(lock, dir, 20_000);
    expect(release).toBeTypeOf('function');
    release!();
  });

  it('stops waiting without the lock when the other builder finished the image', async () => {
    const { lock, dir } = paths();
    await otherBuilder(lock, 30);
    mkdirSync(dir);
    writeFileSync(join(dir, IMAGE_MARKER), '');
    expect(await takeBuildLock(lock, dir, 20_000)).toBeUndefined();
  });

  it('gives up after its deadline, naming the other builder', async () => {
    const { lock, dir } = paths();
    await otherBuilder(lock, 30);
    await expect(takeBuildLock(lock, dir, 300)).rejects.toThrow(ProviderError);
    await expect(takeBuildLock(lock, dir, 300)).rejects.toThrow(/timed out waiting for another build of .*img/);
  });
});
