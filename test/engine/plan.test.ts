import { describe, expect, it } from 'vitest';
import { parseProbe, probeScript, sha256 } from '../../src/engine/probe.js';
import { planChanges } from '../../src/engine/plan.js';
import type { Resource } from '../../src/engine/types.js';

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
    expect(planChanges(resources, parseProbe(resources, out), false)).toEqual([]);
  });

  it('reports each difference with a summary', () => {
    const out = [`F 0 ${sha256('a=2\n')} root app 640`, 'D 1 -', 'P 2 haproxy installed', 'P 2 keepalived not-installed', 'S 3 disabled failed', 'C 4 run'].join('\n');
    const changes = planChanges(resources, parseProbe(resources, out), false);
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
    const [c] = planChanges([resources[0]], parseProbe([resources[0]], out), false);
    expect(c.summary).toBe('/etc/app.conf: group root -> app, mode 644 -> 0640');
    expect(c.ops).toEqual([{ op: 'attrs' }]);
  });

  it('shows a unified diff from the current content, and masks secret files', () => {
    const old = Buffer.from('a=2\n').toString('base64');
    const out = `F 0 ${sha256('a=2\n')} root app 640\nX 0 ${old}`;
    const [c] = planChanges([resources[0]], parseProbe([resources[0]], out), true);
    expect(c.diff).toContain('-a=2');
    expect(c.diff).toContain('+a=1');
    const secret: Resource = { ...(resources[0] as Extract<Resource, { kind: 'file' }>), secret: true, content: 'a=1\npassword=hunter22\n' };
    const [s] = planChanges([secret], parseProbe([secret], out), true);
    expect(s.diff).toContain('+a=1'); // the setting that changes is shown
    expect(s.diff).toContain('+password=********');
    expect(s.diff).not.toContain('hunter22');
  });

  it('batches every probe into one script, quoting paths', () => {
    const script = probeScript([{ kind: 'file', path: "/tmp/it's here", content: '' }, ...resources], false);
    expect(script.split('\n').length).toBeGreaterThanOrEqual(6);
    expect(script).toContain(`'/tmp/it'\\''s here'`);
  });
});
