// The kind registry: every module filed under its own name, probe tags that never collide, and a batched probe
// whose lines reach the module of each resource's kind.
import { describe, expect, it } from 'vitest';
import { KINDS, PROBE_TAGS, kindOf } from '../../../src/engine/kinds/index.js';
import { parseProbe, probeScript } from '../../../src/engine/probe.js';
import type { Resource } from '../../../src/engine/types.js';
import { LocalTransport, fakeHost } from '../local-transport.js';

describe('kind registry', () => {
  it('files each module under its kind, with probe tags of its own', () => {
    const tags: string[] = [];
    for (const [name, k] of Object.entries(KINDS)) {
      expect(k.kind).toBe(name);
      expect(k.tags).toMatch(/^[A-Z]+$/);
      tags.push(...k.tags);
    }
    expect(new Set(tags).size).toBe(tags.length);
    expect([...PROBE_TAGS].sort()).toEqual([...tags].sort());
  });

  it('gives each resource the module of its kind', () => {
    const rs: Resource[] = [
      { kind: 'file', path: '/a', content: '' },
      { kind: 'directory', path: '/a' },
      { kind: 'packages', names: ['a'] },
      { kind: 'service', name: 'a' },
      { kind: 'command', label: 'a', script: 'true' },
    ];
    expect(rs.map((r) => kindOf(r).describe(r))).toEqual([
      'file /a',
      'directory /a',
      'packages a',
      'service a',
      'command: a',
    ]);
    expect(new Set(rs.map((r) => kindOf(r).identity(r))).size).toBe(5); // same name, different kinds: five probes
  });

  it("reads a batched probe: a line goes to its resource only when the tag is of that resource's kind", async () => {
    const rs: Resource[] = [
      { kind: 'directory', path: '/' },
      { kind: 'command', label: 'never ran', script: 'true', creates: '/' },
      { kind: 'service', name: 'pgha-no-such-unit' },
    ];
    const t = new LocalTransport(fakeHost());
    const { stdout } = await t.exec(probeScript(rs, false));
    // Lines of another kind, and for a resource that does not exist, are ignored.
    const got = parseProbe(rs, `${stdout}C 0 run\nD 1 nobody nobody 777\nD 9 x x 1\n`);
    expect(got[0]).toMatchObject({ kind: 'directory', state: { exists: true } });
    expect(got[1]).toEqual({ kind: 'command', run: false });
    expect(got[2]?.kind).toBe('service');
  });
});
