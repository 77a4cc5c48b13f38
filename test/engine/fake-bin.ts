// Fake commands on PATH: a temp dir of small sh scripts that print canned output and log their calls, and a
// transport that runs scripts with sh here, those fakes first on PATH.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecOptions, ExecResult } from '../../src/engine/types.js';
import { shq } from '../../src/engine/quote.js';
import { LocalTransport, fakeHost } from './local-transport.js';

export class FakeBinTransport extends LocalTransport {
  constructor(
    readonly fake: string,
    host = fakeHost(),
  ) {
    super(host);
  }
  override exec(script: string, opts?: ExecOptions): Promise<ExecResult> {
    return super.exec(
      `FAKE=${shq(this.fake)}; export FAKE; PATH=${shq(join(this.fake, 'bin'))}:"$PATH"\n${script}`,
      opts,
    );
  }
}

/**
 * Each command body runs as `#!/bin/sh`; $FAKE is the temp dir. Every call is first logged to $FAKE/calls as
 * "name args...". Returns the dir, a transport and the logged calls.
 */
export function fakeBin(cmds: Record<string, string>) {
  const fake = mkdtempSync(join(tmpdir(), 'pgha-fakebin-'));
  mkdirSync(join(fake, 'bin'));
  for (const [name, body] of Object.entries(cmds)) {
    writeFileSync(join(fake, 'bin', name), `#!/bin/sh\nprintf '%s\\n' "${name} $*" >> "$FAKE/calls"\n${body}\n`);
    chmodSync(join(fake, 'bin', name), 0o755);
  }
  const calls = () =>
    existsSync(join(fake, 'calls')) ? readFileSync(join(fake, 'calls'), 'utf8').trimEnd().split('\n') : [];
  return { fake, t: new FakeBinTransport(fake), calls };
}
