// One run per inventory at a time: an exclusive flock(2) on a lock file beside the inventory, held through an
// open descriptor for the whole run. The file also says who holds it (pid, command, since when), for messages.
//
// Node has no flock, so util-linux `flock -xn FD` takes it: the child inherits our descriptor, locks the open
// file description it shares with us, and exits; the lock stays with that description, i.e. with this process,
// until we close the descriptor or exit in any way (Ctrl-C, a crash, SIGKILL). The kernel decides who wins, so
// there is no stale lock to take over and no race between two runs that both saw the same dead holder: a lock
// file left by a killed run holds no lock. Release removes the file while still holding the lock; a run that
// locked the removed file meanwhile sees that its descriptor is no longer the file at that path, and starts over.
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  constants,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from '../util/errors.js';

function holder(file: string): string {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as { pid: number; what: string; since: string };
    return `pid ${owner.pid}, "${owner.what}", since ${owner.since}`;
  } catch {
    return 'just starting';
  }
}

/** Whether the descriptor is still the file at this path (not one removed by the holder that released it). */
function samefile(fd: number, file: string): boolean {
  try {
    return statSync(file).ino === fstatSync(fd).ino;
  } catch {
    return false;
  }
}

/** The run lock of an inventory, or a UserError naming who holds it. */
export function acquireLock(file: string, what: string): () => void {
  const release = tryLock(file, what);
  if (!release)
    throw new UserError(
      `another pgha run (${holder(file)}) holds the lock on this inventory`,
      `wait for it to finish, or stop it; the lock is ${file}`,
    );
  return release;
}

/** Who holds a lock file, for messages ("pid N, "what", since T"). */
export function lockHolder(file: string): string {
  return holder(file);
}

/** Takes the lock if no one holds it: its release, or undefined while another process holds it. */
export function tryLock(file: string, what: string): (() => void) | undefined {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 5; attempt++) {
    const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o600);
    const r = spawnSync('flock', ['-xn', '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    if (r.error || (r.status !== 0 && r.status !== 1)) {
      closeSync(fd);
      throw new UserError(
        `cannot lock ${file}: ${r.error?.message ?? r.stderr.toString().trim()}`,
        'pgha needs flock from util-linux on this machine (apt-get install util-linux)',
      );
    }
    if (r.status === 1) {
      closeSync(fd);
      return undefined;
    }
    if (!samefile(fd, file)) {
      closeSync(fd); // the holder released (and removed) it between our open and our lock
      continue;
    }
    ftruncateSync(fd, 0);
    writeSync(fd, JSON.stringify({ pid: process.pid, what, since: new Date().toISOString() }), 0);
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      process.removeListener('exit', release);
      try {
        unlinkSync(file);
      } catch {
        /* already gone */
      } finally {
        closeSync(fd);
      }
    };
    process.once('exit', release);
    return release;
  }
  throw new UserError(
    `cannot take the lock ${file}`,
    'other pgha runs are starting and stopping at the same time; try again',
  );
}
