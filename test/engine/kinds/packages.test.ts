// The packages kind on its own: its probe and install script run against fake dpkg-query, dpkg and apt-get.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packagesKind, type PackagesResource } from '../../../src/engine/kinds/packages.js';
import { fakeBin } from '../fake-bin.js';
import { applyOps, probeOne } from './helpers.js';

/** dpkg-query answers from $FAKE/status ("name status" lines); apt-get install marks its last argument installed there. */
function host(status: string) {
  const h = fakeBin({
    'dpkg-query': 'for p in "$@"; do case "$p" in -*) ;; *) grep "^${p%%[=:]*}[: ]" "$FAKE/status" ;; esac; done; :',
    dpkg: ':',
    'apt-get':
      'case " $* " in *" install "*) for last; do :; done; n=${last%%=*}; sed -i "s/^$n .*/$n installed/" "$FAKE/status" ;; esac',
  });
  writeFileSync(join(h.fake, 'status'), status);
  return h;
}

describe('packages kind', () => {
  const r: PackagesResource = { kind: 'packages', names: ['haproxy', 'keepalived=1:2.2.7-1', 'libpq5:amd64'] };

  it('names its packages; the probe depends on the set, not the order', () => {
    expect(packagesKind.describe(r)).toBe('packages haproxy keepalived=1:2.2.7-1 libpq5:amd64');
    expect(packagesKind.identity({ ...r, names: [...r.names].reverse() })).toBe(packagesKind.identity(r));
    expect(packagesKind.identity({ ...r, names: ['haproxy'] })).not.toBe(packagesKind.identity(r));
  });

  it('installs only what dpkg does not report installed, then finds all installed', async () => {
    const h = host('haproxy installed\nkeepalived not-installed\nlibpq5:amd64 installed\n');
    const { state } = await probeOne(packagesKind, h.t, r);
    expect(state).toEqual({ kind: 'packages', installed: new Set(['haproxy', 'libpq5']) });
    const plan = packagesKind.plan(r, state, false)!;
    expect(plan).toEqual({
      summary: 'install keepalived=1:2.2.7-1',
      ops: [{ op: 'install', names: ['keepalived=1:2.2.7-1'] }],
    });
    const [res] = await applyOps(packagesKind, h.t, r, plan.ops);
    expect(res!.code).toBe(0);
    expect(h.calls().at(-1)).toMatch(/^apt-get .* install -y -q --no-install-recommends keepalived=1:2.2.7-1$/);
    const again = await probeOne(packagesKind, h.t, r);
    expect(packagesKind.plan(r, again.state, false)).toBeUndefined();
  });

  it('gives an install twenty minutes', () => {
    expect(packagesKind.exec!(r, { op: 'install', names: ['haproxy'] })).toEqual({ timeoutMs: 1_200_000 });
  });
});
