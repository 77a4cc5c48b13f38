// Notifications that outlive a failed or killed run: recorded with the change, carried by the next run even
// when the file is already as wanted, cleared only once the step verified. Runs the real scripts with sh.
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Runner } from '../../src/engine/runner.js';
import { RunError } from '../../src/engine/errors.js';
import { pendingFact, recordScript } from '../../src/engine/pending.js';
import { DPKG_RECOVER, packagesScript } from '../../src/engine/apply.js';
import type { Step, Transport } from '../../src/engine/types.js';
import type { Inventory } from '../../src/inventory/types.js';
import { LocalTransport, fakeHost } from './local-transport.js';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-pending-'));
  const host = fakeHost('a');
  const inv: Inventory = { file: join(dir, 'inv.yml'), dir, cluster: 'c', subnet: '10.0.0.0/24', prefix: 24, provider: { type: 'static' }, hosts: [host], groups: { all: ['a'] }, vars: {}, warnings: [] };
  const t = new LocalTransport(host);
  const transports = new Map<string, Transport>([['a', t]]);
  const pendingDir = join(dir, 'notify');
  const runner = (check = false) => new Runner({ inventory: inv, secrets: {}, transports, check, diff: false, events: {}, pendingDir });
  return { dir, host, t, pendingDir, runner };
}

/** A config file that asks for a reload of a unit that does not exist here (so the reload itself is a no-op). */
function configStep(file: string, content: string, verify?: () => void): Step {
  return {
    id: 's.cfg',
    title: 'config',
    resources: () => [{ kind: 'file', path: file, content, notify: [{ service: 'pgha-test-unit', action: 'reload' }] }],
    verify: verify ? async () => verify() : undefined,
  };
}

describe('pending notifications', () => {
  it('records with the change, keeps the record while verify fails, carries it into the next run, clears it once verified', async () => {
    const { dir, host, t, pendingDir, runner } = setup();
    const file = join(dir, 'app.conf');
    let healthy = false;
    const step = configStep(file, 'v1\n', () => {
      if (!healthy) throw new Error('service not healthy');
    });
    const err = await runner().runStep(step, [host]).catch((e) => e);
    expect(err).toBeInstanceOf(RunError);
    expect(readFileSync(file, 'utf8')).toBe('v1\n');
    expect(readFileSync(join(pendingDir, 'pgha-test-unit'), 'utf8').trim()).toBe('reload');

    // The file is as wanted now, yet the reload the failed run asked for is still due.
    healthy = true;
    const scripts = t.scripts.length;
    const [res] = await runner().runStep(step, [host]);
    expect(res.changes.map((c) => c.summary)).toEqual(['reload pgha-test-unit (left pending by an earlier run that did not finish)']);
    expect(t.scripts.slice(scripts).some((s) => s.includes('systemctl reload pgha-test-unit'))).toBe(true);
    expect(existsSync(join(pendingDir, 'pgha-test-unit'))).toBe(false);

    const [again] = await runner().runStep(step, [host]);
    expect(again.changes).toEqual([]);
    expect(again.roundTrips).toBe(1);
  });

  it('a plan shows a carried notification and changes nothing', async () => {
    const { dir, host, pendingDir, runner } = setup();
    const file = join(dir, 'plan.conf');
    writeFileSync(file, 'v1\n');
    mkdirSync(pendingDir, { recursive: true });
    writeFileSync(join(pendingDir, 'pgha-test-unit'), 'restart\n');
    const [res] = await runner(true).runStep(configStep(file, 'v1\n'), [host]);
    expect(res.changes.map((c) => c.summary)).toEqual(['restart pgha-test-unit (left pending by an earlier run that did not finish)']);
    expect(res.reason).toMatch(/^would change 1/);
    expect(readFileSync(join(pendingDir, 'pgha-test-unit'), 'utf8').trim()).toBe('restart');
  });

  it('ignores records of services the step does not notify', async () => {
    const { dir, host, pendingDir, runner } = setup();
    const file = join(dir, 'other.conf');
    writeFileSync(file, 'v1\n');
    mkdirSync(pendingDir, { recursive: true });
    writeFileSync(join(pendingDir, 'etcd'), 'restart\n');
    const [res] = await runner().runStep(configStep(file, 'v1\n'), [host]);
    expect(res.changes).toEqual([]);
    expect(existsSync(join(pendingDir, 'etcd'))).toBe(true);
  });

  it('a recorded restart is never weakened to a reload', async () => {
    const { pendingDir, t } = setup();
    await t.exec(recordScript([{ service: 'x', action: 'restart' }], pendingDir));
    await t.exec(recordScript([{ service: 'x', action: 'reload' }, { service: 'y', action: 'reload' }], pendingDir));
    const spec = pendingFact(pendingDir);
    const got = spec.parse((await t.exec(spec.script)).stdout);
    expect([...got]).toEqual([['x', 'restart'], ['y', 'reload']]);
  });
});

describe('packages after an interrupted dpkg', () => {
  it('finishes what dpkg left (configure -a, waiting for a lock of the killed run) before installing', () => {
    const s = packagesScript(['haproxy']);
    expect(s.indexOf(DPKG_RECOVER)).toBeGreaterThan(0);
    expect(s.indexOf(DPKG_RECOVER)).toBeLessThan(s.indexOf('install -y'));
    expect(DPKG_RECOVER).toContain('dpkg --force-confdef --force-confold --configure -a');
    expect(DPKG_RECOVER).toMatch(/\*lock\*\).*sleep 1/);
  });

  it('does nothing when dpkg has nothing pending', async () => {
    const t = new LocalTransport(fakeHost());
    // On this machine dpkg is consistent: the recovery block must be a no-op that succeeds.
    const r = await t.exec(`set -e\n${DPKG_RECOVER.replace(/dpkg --force-confdef[^)]*--configure -a/, 'echo WOULD-CONFIGURE')}\necho ok`);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('WOULD-CONFIGURE');
  });
});
