// The service kind on its own: probe and systemctl scripts run against a fake systemctl that keeps the unit's
// state in files.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serviceKind, type ServiceResource } from '../../../src/engine/kinds/service.js';
import { fakeBin } from '../fake-bin.js';
import { applyOps, probeOne } from './helpers.js';

/** A fake systemctl: is-enabled / is-active print $FAKE/enabled and $FAKE/active; the verbs change them. */
function host(enabled: string, active: string) {
  const h = fakeBin({
    systemctl: [
      'case "$1" in',
      '  is-enabled) cat "$FAKE/enabled" ;;',
      '  is-active) cat "$FAKE/active"; [ "$(cat "$FAKE/active")" = active ] ;;',
      '  enable) echo enabled > "$FAKE/enabled" ;;',
      '  disable) echo disabled > "$FAKE/enabled" ;;',
      '  start) [ "$(cat "$FAKE/active")" != failed ] || exit 1; echo active > "$FAKE/active" ;;',
      '  stop) echo inactive > "$FAKE/active" ;;',
      '  reset-failed) echo inactive > "$FAKE/active" ;;',
      'esac',
    ].join('\n'),
  });
  writeFileSync(join(h.fake, 'enabled'), `${enabled}\n`);
  writeFileSync(join(h.fake, 'active'), `${active}\n`);
  const state = () => [
    readFileSync(join(h.fake, 'enabled'), 'utf8').trim(),
    readFileSync(join(h.fake, 'active'), 'utf8').trim(),
  ];
  return { ...h, state };
}

describe('service kind', () => {
  const r: ServiceResource = { kind: 'service', name: 'app', enabled: true, state: 'started' };

  it('names a service; its probe depends on the name only', () => {
    expect(serviceKind.describe(r)).toBe('service app');
    expect(serviceKind.identity({ ...r, state: 'stopped' })).toBe(serviceKind.identity(r));
  });

  it('enables and starts a failed unit (reset first), then finds it as wanted', async () => {
    const h = host('disabled', 'failed');
    const { state } = await probeOne(serviceKind, h.t, r);
    expect(state).toEqual({ kind: 'service', state: { enabled: 'disabled', active: 'failed' } });
    const plan = serviceKind.plan(r, state, false)!;
    expect(plan).toEqual({ summary: 'enable + start (was failed) app', ops: [{ op: 'enable' }, { op: 'start' }] });
    const results = await applyOps(serviceKind, h.t, r, plan.ops);
    expect(results.map((x) => x.code)).toEqual([0, 0]);
    expect(h.calls()).toEqual([
      'systemctl is-enabled app',
      'systemctl is-active app',
      'systemctl enable app',
      'systemctl reset-failed app',
      'systemctl start app',
    ]);
    expect(h.state()).toEqual(['enabled', 'active']);
    expect(serviceKind.started!(r, { op: 'start' })).toBe('app');
    expect(serviceKind.started!(r, { op: 'enable' })).toBeUndefined();
    const again = await probeOne(serviceKind, h.t, r);
    expect(serviceKind.plan(r, again.state, false)).toBeUndefined();
  });

  it('disables and stops a unit meant to be off', async () => {
    const off: ServiceResource = { kind: 'service', name: 'app', enabled: false, state: 'stopped' };
    const h = host('enabled', 'active');
    const plan = serviceKind.plan(off, (await probeOne(serviceKind, h.t, off)).state, false)!;
    expect(plan.summary).toBe('disable + stop app');
    await applyOps(serviceKind, h.t, off, plan.ops);
    expect(h.state()).toEqual(['disabled', 'inactive']);
  });

  it('counts static and indirect units as enabled, activating as running', () => {
    for (const enabled of ['static', 'indirect', 'enabled-runtime', 'generated', 'alias']) {
      expect(serviceKind.plan(r, { kind: 'service', state: { enabled, active: 'activating' } }, false)).toBeUndefined();
    }
    // Only an "enabled" unit is disabled: a static one cannot be.
    expect(
      serviceKind.plan(
        { ...r, enabled: false },
        { kind: 'service', state: { enabled: 'static', active: 'active' } },
        false,
      ),
    ).toBeUndefined();
  });

  it('reads an empty answer (no systemd) as unknown, and shows the journal of a failed unit', () => {
    const p = serviceKind.unprobed();
    serviceKind.read(p, 'S', ' ');
    expect(p.state).toEqual({ enabled: 'unknown', active: 'unknown' });
    expect(serviceKind.failure!(r)).toEqual({ unit: 'app' });
  });
});
