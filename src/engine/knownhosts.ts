// Host keys are verified against a known_hosts file kept per inventory: recorded on first use (when the file
// holds no key at all for the host); afterwards a key that is not one of the recorded ones is a hard error,
// whatever its type (a new key of another type is as suspect as a changed one). Lines use OpenSSH's format, so `ssh -o UserKnownHostsFile=` can share the file.
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
    return existsSync(this.file)
      ? readFileSync(this.file, 'utf8')
          .split('\n')
          .filter((l) => l.trim())
      : [];
  }

  /** Compare a presented key with the file; records it when the file knows no key of the host. */
  check(pattern: string, blob: Buffer): KeyVerdict {
    const type = keyType(blob);
    const b64 = blob.toString('base64');
    const mine = this.read()
      .map((l) => l.split(/\s+/))
      .filter((f) => f[0].split(',').includes(pattern));
    if (mine.some((f) => f[1] === type && f[2] === b64)) return 'known';
    if (mine.length) return 'changed';
    this.write([...this.read(), `${pattern} ${type} ${b64}`]);
    return 'new';
  }

  /** Record exactly these keys for a host (all its key types, read from the host itself), replacing any others. */
  record(pattern: string, blobs: Buffer[]): void {
    const others = this.read().filter((l) => !l.split(/\s+/)[0].split(',').includes(pattern));
    this.write([...others, ...blobs.map((b) => `${pattern} ${keyType(b)} ${b.toString('base64')}`)]);
  }

  private write(lines: string[]): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, lines.join('\n') + '\n', { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  /** Forget the keys of these patterns (a rebuilt lab host has new keys). */
  forget(patterns: string[]): void {
    if (!existsSync(this.file)) return;
    const keep = this.read().filter(
      (l) =>
        !l
          .split(/\s+/)[0]
          .split(',')
          .some((p) => patterns.includes(p)),
    );
    writeFileSync(this.file, keep.length ? keep.join('\n') + '\n' : '', { mode: 0o600 });
  }
}
