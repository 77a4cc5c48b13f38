// Host keys are verified against a known_hosts file kept per inventory: recorded on first use,
// a changed key is a hard error. Lines use OpenSSH's format, so `ssh -o UserKnownHostsFile=` can share the file.
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';

export function hostPattern(address: string, port: number): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** The key type named inside an SSH wire-format public key blob. */
export function keyType(blob: Buffer): string {
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('ascii');
}

export type KeyVerdict = 'known' | 'new' | 'changed';

export class KnownHosts {
  constructor(readonly file: string) {}

  private read(): string[] {
    return existsSync(this.file) ? readFileSync(this.file, 'utf8').split('\n').filter((l) => l.trim()) : [];
  }

  /** Compare a presented key with the file; records it when the host is new. */
  check(pattern: string, blob: Buffer): KeyVerdict {
    const type = keyType(blob);
    const b64 = blob.toString('base64');
    const mine = this.read()
      .map((l) => l.split(/\s+/))
      .filter((f) => f[0].split(',').includes(pattern));
    if (mine.some((f) => f[1] === type && f[2] === b64)) return 'known';
    if (mine.some((f) => f[1] === type)) return 'changed';
    this.append(`${pattern} ${type} ${b64}`);
    return 'new';
  }

  private append(line: string): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const lines = this.read();
    lines.push(line);
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, lines.join('\n') + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  /** Forget the keys of these patterns (a rebuilt lab host has new keys). */
  forget(patterns: string[]): void {
    if (!existsSync(this.file)) return;
    const keep = this.read().filter((l) => !l.split(/\s+/)[0].split(',').some((p) => patterns.includes(p)));
    writeFileSync(this.file, keep.length ? keep.join('\n') + '\n' : '', { mode: 0o600 });
  }
}
