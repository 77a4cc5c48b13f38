import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseProbe, probe, probeScript, sha256 } from '../../src/engine/probe.js';
import { fakeBin } from './fake-bin.js';
import { planChanges } from '../../src/engine/plan.js';
import type { Resource } from '../../src/engine/types.js';

/** Recorded probe output with each resource's closing record, as the probe script prints them. */
const closed = (out: string, n: number) => `${out}\n${Array.from({ length: n }, (_, i) => `E ${i}`).join('\n')}\n`;

const resources: Resource[] = [
  { kind: 'file', path: '/etc/app.conf', content: 'a=1\n', mode: '0640', owner: 'root', group: 'app' },
  { kind: 'directory', path: '/var/lib/app', owner: 'app', group: 'app', mode: '0750' },
  { kind: 'packages', names: ['haproxy', 'keepalived'] },
  { kind: 'service', name: 'haproxy', enabled: true, state: 'started' },
  { kind: 'command', label: 'init', argv: ['app', 'init'], creates: '/var/lib/app/ok' },
];

describe('planning from recorded probe output (no SSH)', () => {
  it('finds nothing to do when the recorded state matches', () => {
    const out = [
      `F 0 ${sha256('a=1\n')} root app 640`,
      'D 1 app app 750',
      'P 2 haproxy installed',
      'P 2 keepalived installed',
      'S 3 enabled active',
      'C 4 skip',
    ].join('\n');
    expect(planChanges(resources, parseProbe(resources, closed(out, 5)), false)).toEqual([]);
  });

  it('refuses output without a closing record for every resource', () => {
    const out = [
      `F 0 ${sha256('a=1\n')} root app 640`,
      'D 1 app app 750',
      'P 2 haproxy installed',
      'P 2 keepalived installed',
      'S 3 enabled active',
      'C 4 skip',
    ].join('\n');
    expect(() => parseProbe(resources, out)).toThrow(/records for 0 of 5 resources/);
    // Cut after the third resource: the command's record (a "skip") never arrived.
    const cut = `${out}\nE 0\nE 1\nE 2\nE 3\n`.replace('C 4 skip\n', '');
    expect(() => parseProbe(resources, cut)).toThrow('records for 4 of 5 resources; none for command: init');
  });

  it('reports each difference with a summary', () => {
    const out = [
      `F 0 ${sha256('a=2\n')} root app 640`,
      'D 1 -',
      'P 2 haproxy installed',
      'P 2 keepalived not-installed',
      'S 3 disabled failed',
      'C 4 run',
    ].join('\n');
    const changes = planChanges(resources, parseProbe(resources, closed(out, 5)), false);
    expect(changes.map((c) => c.summary)).toEqual([
      'update /etc/app.conf',
      'create directory /var/lib/app',
      'install keepalived',
      'enable + start (was failed) haproxy',
      'run: init',
    ]);
  });

  it('sees an owner or mode change without a content change', () => {
    const out = `F 0 ${sha256('a=1\n')} root root 644`;
    const [c] = planChanges([resources[0]], parseProbe([resources[0]], closed(out, 1)), false);
    expect(c.summary).toBe('/etc/app.conf: group root -> app, mode 644 -> 0640');
    expect(c.ops).toEqual([{ op: 'attrs' }]);
  });

  it('shows a unified diff from the current content, and masks secret files', () => {
    const old = Buffer.from('a=2\n').toString('base64');
    const out = closed(`F 0 ${sha256('a=2\n')} root app 640\nX 0 ${old}`, 1);
    const [c] = planChanges([resources[0]], parseProbe([resources[0]], out), true);
    expect(c.diff).toContain('-a=2');
    expect(c.diff).toContain('+a=1');
    const secret: Resource = {
      ...(resources[0] as Extract<Resource, { kind: 'file' }>),
      secret: true,
      content: 'a=1\npassword=hunter22\n',
    };
    const [s] = planChanges([secret], parseProbe([secret], out), true);
    expect(s.diff).toContain('+a=1'); // the setting that changes is shown
    expect(s.diff).toContain('+password=********');
    expect(s.diff).not.toContain('hunter22');
  });

  it('batches every probe into one script, quoting paths (run with sh, fake dpkg-query and systemctl)', async () => {
    const { fake, t, calls } = fakeBin({
      'dpkg-query': 'printf "haproxy installed\\nkeepalived not-installed\\n"',
      systemctl: 'case "$1" in is-enabled) echo enabled ;; is-active) echo active ;; esac',
    });
    const quoted = join(fake, "it's here");
    writeFileSync(quoted, 'q\n');
    chmodSync(quoted, 0o640);
    mkdirSync(join(fake, 'app'), { mode: 0o750 });
    writeFileSync(join(fake, 'ok'), '');
    const rs: Resource[] = [
      { kind: 'file', path: quoted, content: 'q\n' },
      { kind: 'directory', path: join(fake, 'app') },
      { kind: 'packages', names: ['haproxy', 'keepalived'] },
      { kind: 'service', name: 'haproxy', enabled: true, state: 'started' },
      { kind: 'command', label: 'init', argv: ['app', 'init'], creates: join(fake, 'ok') },
      { kind: 'file', path: join(fake, 'missing.conf'), content: '' },
    ];
    const got = await probe(t, rs, false);
    expect(t.roundTrips).toBe(1);
    expect(got[0]).toMatchObject({ kind: 'file', state: { exists: true, sha: sha256('q\n'), mode: '640' } });
    expect(got[1]).toMatchObject({ kind: 'directory', state: { exists: true, mode: '750' } });
    expect(got[2]).toEqual({ kind: 'packages', installed: new Set(['haproxy']) });
    expect(got[3]).toEqual({ kind: 'service', state: { enabled: 'enabled', active: 'active' } });
    expect(got[4]).toEqual({ kind: 'command', run: false });
    expect(got[5]).toEqual({ kind: 'file', state: { exists: false } });
    expect(calls()).toEqual([
      'dpkg-query -W -f=${Package} ${db:Status-Status}\\n haproxy keepalived',
      'systemctl is-enabled haproxy',
      'systemctl is-active haproxy',
    ]);
    expect(probeScript(rs, false)).toContain(`'${fake}/it'\\''s here'`);
  });
});
