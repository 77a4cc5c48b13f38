import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packagesAllStep } from '../../src/components/packages/index.js';
import type { Step } from '../../src/engine/types.js';
import { fakeBin } from './fake-bin.js';
import { fakeInventory, testRunner } from './local-transport.js';

/**
 * Fake dpkg-query (the names listed in $FAKE/installed are installed), apt-get (install appends its names there and
 * logs, per name, whether $GUARD existed at that moment) and dpkg (nothing interrupted).
 */
function fakeApt(guard: string) {
  return fakeBin({
    'dpkg-query': [
      'shift 2',
      'touch "$FAKE/installed"',
      'if [ $# -eq 0 ]; then sed "s/$/ installed/" "$FAKE/installed"; exit 0; fi',
      'for p in "$@"; do grep -qx "$p" "$FAKE/installed" && echo "$p installed"; done',
      'exit 0',
    ].join('\n'),
    'apt-get': [
      'seen=',
      'for a in "$@"; do',
      '  if [ -n "$seen" ]; then',
      '    case "$a" in -*) ;; *)',
      '      echo "$a" >> "$FAKE/installed"',
      `      if [ -e ${guard} ]; then echo "$a guarded" >> "$FAKE/log"; else echo "$a unguarded" >> "$FAKE/log"; fi;;`,
      '    esac',
      '  elif [ "$a" = install ]; then seen=1; fi',
      'done',
    ].join('\n'),
    dpkg: 'exit 0',
  });
}

/** Two install steps as the components write them: one with a guard file before its packages, one without. */
function installSteps(dir: string): Step[] {
  const guard = join(dir, 'policy-rc.d');
  return [
    {
      id: 'a.install',
      title: 'a',
      resources: () => [
        {
          kind: 'file',
          path: guard,
          content: 'exit 101\n',
          mode: '0755',
          notify: [{ service: 'a', action: 'restart' }],
        },
        { kind: 'packages', names: ['pkg-a'] },
        { kind: 'directory', path: join(dir, 'after-a') },
      ],
    },
    { id: 'b.install', title: 'b', resources: () => [{ kind: 'packages', names: ['pkg-b', 'pkg-c'] }] },
    {
      // Needs a command before its install: left to install on its own.
      id: 'c.install',
      title: 'c',
      resources: () => [
        { kind: 'command', label: 'prepare', argv: ['true'] },
        { kind: 'packages', names: ['pkg-d'] },
      ],
    },
  ];
}

describe('packages.all on a host', () => {
  it('puts the guards in place, then installs every package in one apt-get; the steps then change nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-atonce-'));
    const guard = join(dir, 'policy-rc.d');
    const { fake, t, calls } = fakeApt(guard);
    const inv = fakeInventory(dir, [t.host]);
    const r = testRunner(inv, new Map([[t.host.name, t]]), { dir });
    const later = installSteps(dir).map((step) => ({ step, hosts: [t.host] }));

    const [first] = await r.runStep(packagesAllStep(later), [t.host]);
    expect(first!.error).toBeUndefined();
    expect(first!.changes.map((c) => c.summary)).toEqual([`create ${guard}`, 'install pkg-a pkg-b pkg-c']);
    expect(first!.restarted).toEqual([]); // the guard's notification is not carried into this step
    expect(readFileSync(join(fake, 'log'), 'utf8').trim().split('\n')).toEqual([
      'pkg-a guarded',
      'pkg-b guarded',
      'pkg-c guarded',
    ]);
    const installs = () => calls().filter((c) => /^apt-get .* install /.test(c));
    expect(installs()).toHaveLength(1);
    expect(existsSync(join(dir, 'after-a'))).toBe(false); // what comes after an install stays with its step

    // The steps themselves: a and b find their packages installed; c installs its own.
    const a = (await r.runStep(later[0]!.step, [t.host]))[0]!;
    expect(a.changes.map((c) => c.summary)).toEqual([`create directory ${join(dir, 'after-a')}`]);
    expect((await r.runStep(later[1]!.step, [t.host]))[0]!.changes).toEqual([]);
    const c = (await r.runStep(later[2]!.step, [t.host]))[0]!;
    expect(c.changes.map((x) => x.summary)).toContain('install pkg-d');
    expect(installs()).toHaveLength(2);

    // Run again: nothing left to install, and no guard written again.
    const again = (await r.runStep(packagesAllStep(later), [t.host]))[0]!;
    expect(again.changes).toEqual([]);
  });

  it('with packages_at_once: false, plans nothing and each step installs its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-atonce-'));
    const { t, calls } = fakeApt(join(dir, 'policy-rc.d'));
    const host = { ...t.host, vars: { packages_at_once: false } };
    const inv = fakeInventory(dir, [host]);
    const r = testRunner(inv, new Map([[host.name, t]]), { dir });
    const later = installSteps(dir).map((step) => ({ step, hosts: [host] }));
    const [first] = await r.runStep(packagesAllStep(later), [host]);
    expect(first!.changes).toEqual([]);
    for (const l of later) await r.runStep(l.step, [host]);
    expect(calls().filter((c) => /^apt-get .* install /.test(c))).toHaveLength(3);
  });
});
