// Notifications that outlive a failed or killed run: recorded with the change, carried by the next run even
// when the file is already as wanted, cleared only once the step verified. Runs the real scripts with sh.
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Runner } from '../../src/engine/runner.js';
import { RunError } from '../../src/util/errors.js';
import { pendingFact, recordScript } from '../../src/engine/pending.js';
import { DPKG_RECOVER, dpkgRecover, packagesScript } from '../../src/engine/apply.js';
import type { Step, Transport } from '../../src/engine/types.js';
import { LocalTransport, fakeHost, fakeInventory } from './local-transport.js';
import { fakeBin } from './fake-bin.js';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-pending-'));
  const host = fakeHost('a');
  const inv = fakeInventory(dir, [host]);
  const t = new LocalTransport(host);
  const transports = new Map<string, Transport>([['a', t]]);
  const pendingDir = join(dir, 'notify');
  const runner = (check = false) =>
    new Runner({ inventory: inv, secrets: {}, transports, check, diff: false, events: {}, pendingDir });
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
    const err = await runner()
      .runStep(step, [host])
      .catch((e) => e);
    expect(err).toBeInstanceOf(RunError);
    expect(readFileSync(file, 'utf8')).toBe('v1\n');
    expect(readFileSync(join(pendingDir, 'pgha-test-unit'), 'utf8').trim()).toBe('reload');

    // The file is as wanted now, yet the reload the failed run asked for is still due.
    healthy = true;
    const scripts = t.scripts.length;
    const [res] = await runner().runStep(step, [host]);
    expect(res.changes.map((c) => c.summary)).toEqual([
      'reload pgha-test-unit (left pending by an earlier run that did not finish)',
    ]);
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
    expect(res.changes.map((c) => c.summary)).toEqual([
      'restart pgha-test-unit (left pending by an earlier run that did not finish)',
    ]);
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
    await t.exec(
      recordScript(
        [
          { service: 'x', action: 'reload' },
          { service: 'y', action: 'reload' },
        ],
        pendingDir,
      ),
    );
    const spec = pendingFact(pendingDir);
    const got = spec.parse((await t.exec(spec.script)).stdout);
    expect([...got]).toEqual([
      ['x', 'restart'],
      ['y', 'reload'],
    ]);
  });
});

// dpkg as a killed run leaves it: $FAKE/audit lists half-configured packages (cleared by a successful
// configure -a unless $FAKE/audit-stays exists); $FAKE/configure holds one outcome per call (ok, lock, fail).
const DPKG = `case "$*" in
  --audit) cat "$FAKE/audit" 2>/dev/null ;;
  *--configure*)
    n=$(($(cat "$FAKE/cn" 2>/dev/null || echo 0) + 1)); echo $n > "$FAKE/cn"
    case "$(sed -n "\${n}p" "$FAKE/configure" 2>/dev/null)" in
      lock) echo "dpkg: error: dpkg frontend lock was locked by another process with pid 4242" >&2; exit 2 ;;
      fail) echo "dpkg: error processing package haproxy (--configure):" >&2; exit 1 ;;
    esac
    [ -e "$FAKE/audit-stays" ] || rm -f "$FAKE/audit" ;;
esac`;

function dpkgHost(o: { updates?: boolean; audit?: string; configure?: string[]; auditStays?: boolean } = {}) {
  const f = fakeBin({ dpkg: DPKG, 'apt-get': 'exit 0', sleep: 'exit 0' });
  const updates = join(f.fake, 'updates');
  mkdirSync(updates);
  if (o.updates) writeFileSync(join(updates, '0001'), '');
  if (o.audit) writeFileSync(join(f.fake, 'audit'), o.audit);
  if (o.auditStays) writeFileSync(join(f.fake, 'audit-stays'), '');
  writeFileSync(join(f.fake, 'configure'), (o.configure ?? []).join('\n') + '\n');
  return { ...f, updates };
}
const CONFIGURE = 'dpkg --force-confdef --force-confold --configure -a';
const HALF =
  'The following packages are only half configured, probably due to problems\nconfiguring them the first time.\n haproxy\n';

describe('packages after an interrupted dpkg (fake dpkg and apt-get on PATH)', () => {
  it('does nothing when dpkg has nothing pending', async () => {
    const h = dpkgHost();
    const r = await h.t.exec(`set -e\n${dpkgRecover(h.updates)}\necho ok`);
    expect(r).toMatchObject({ code: 0, stdout: 'ok\n' });
    expect(h.calls()).toEqual(['dpkg --audit']);
  });

  it('finishes an interrupted run (journal in dpkg/updates) with configure -a', async () => {
    const h = dpkgHost({ updates: true });
    const r = await h.t.exec(`set -e\n${dpkgRecover(h.updates)}`);
    expect(r.code).toBe(0);
    expect(h.calls()).toEqual([CONFIGURE, 'dpkg --audit']);
  });

  it('waits while the killed run still holds the lock, then configures', async () => {
    const h = dpkgHost({ audit: HALF, configure: ['lock', 'lock', 'ok'] });
    const r = await h.t.exec(`set -e\n${dpkgRecover(h.updates)}`);
    expect(r.code).toBe(0);
    expect(h.calls()).toEqual(['dpkg --audit', CONFIGURE, 'sleep 1', CONFIGURE, 'sleep 1', CONFIGURE, 'dpkg --audit']);
  });

  it("stops with dpkg's message on an error other than the lock", async () => {
    const h = dpkgHost({ updates: true, configure: ['fail'] });
    const r = await h.t.exec(`set -e\n${dpkgRecover(h.updates)}\necho after`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('dpkg: error processing package haproxy (--configure):');
    expect(h.calls()).toEqual([CONFIGURE]);
  });

  it('lets apt fix what configure -a left broken', async () => {
    const h = dpkgHost({ audit: HALF, auditStays: true });
    expect((await h.t.exec(`set -e\n${dpkgRecover(h.updates)}`)).code).toBe(0);
    expect(h.calls()).toEqual([
      'dpkg --audit',
      CONFIGURE,
      'dpkg --audit',
      expect.stringMatching(/^apt-get .* install -f -y -q$/),
    ]);
  });

  it('recovers before installing', async () => {
    const h = dpkgHost({ updates: true });
    const r = await h.t.exec(packagesScript(['haproxy'], h.updates));
    expect(r.code).toBe(0);
    const calls = h.calls();
    expect(calls[0]).toBe(CONFIGURE);
    expect(calls.at(-1)).toMatch(/^apt-get .* install -y -q --no-install-recommends haproxy$/);
  });

  it("on a host, looks at dpkg's own journal directory", () => {
    expect(DPKG_RECOVER).toBe(dpkgRecover('/var/lib/dpkg/updates'));
    expect(DPKG_RECOVER).toContain('ls -A /var/lib/dpkg/updates ');
    expect(packagesScript(['haproxy'])).toContain(DPKG_RECOVER);
  });
});
