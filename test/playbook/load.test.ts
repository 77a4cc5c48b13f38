import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findPlaybook, loadPlaybook, resolvePlays } from '../../src/playbook/load.js';
import { taskResources } from '../../src/playbook/tasks.js';
import { renderTemplate } from '../../src/engine/template.js';
import type { Component, StepContext } from '../../src/engine/types.js';
import type { Inventory } from '../../src/inventory/types.js';
import { fakeHost } from '../engine/local-transport.js';
import { UserError } from '../../src/util/errors.js';

const comps: Record<string, Component> = {
  etcd: {
    name: 'etcd',
    steps: [
      { id: 'etcd.install', title: 'etcd', resources: () => [] },
      { id: 'etcd.config', title: 'etcd config', resources: () => [] },
    ],
  },
};

function inv(): Inventory {
  const h1 = { ...fakeHost('pg1', '10.9.0.11'), roles: ['etcd' as const], groups: ['dc1'] };
  const h2 = { ...fakeHost('lb1', '10.9.0.21'), roles: ['haproxy' as const] };
  return {
    file: '/x/inv.yml',
    dir: '/x',
    cluster: 'c',
    subnet: '10.9.0.0/24',
    prefix: 24,
    provider: { type: 'static' },
    hosts: [h1, h2],
    groups: { all: ['pg1', 'lb1'], etcd: ['pg1'], haproxy: ['lb1'], postgres: [], dc1: ['pg1'] },
    vars: {},
    warnings: [],
  };
}

function write(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), 'pgha-pb-')), 'pb.yml');
  writeFileSync(f, text);
  return f;
}

describe('playbooks', () => {
  it('loads the shipped playbooks by name', () => {
    expect(loadPlaybook(findPlaybook('demo'), comps).plays).toHaveLength(1);
  });

  it('names file, line and field for an unknown key, with a suggestion', () => {
    const f = write('name: x\nplays:\n  - hosts: all\n    taks:\n      - packages: [a]\n');
    expect(() => loadPlaybook(f, comps)).toThrow(
      /pb\.yml:4: plays\.0\.taks: unknown key 'taks': did you mean 'tasks'\?/,
    );
  });

  it('rejects an unknown component with its line', () => {
    const f = write('name: x\nplays:\n  - hosts: etcd\n    component: etdc\n');
    expect(() => loadPlaybook(f, comps)).toThrow(
      /pb\.yml:4: plays\.0\.component: unknown component 'etdc': did you mean 'etcd'\?/,
    );
  });

  it('a key given twice is an error at both lines, with the file named for each', () => {
    const f = write('name: x\nplays:\n  - hosts: etcd\n    component: etcd\n    hosts: all\nname: y\n');
    let err: unknown;
    try {
      loadPlaybook(f, comps);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).exitCode).toBe(2);
    expect((err as UserError).message.split('\n')).toEqual([
      `playbook ${f} has 4 errors:`,
      `  ${f}:1: name: key 'name' is given twice (again at line 6)`,
      `  ${f}:3: plays.0.hosts: key 'hosts' is given twice (again at line 5)`,
      `  ${f}:5: plays.0.hosts: duplicate key 'hosts' (first at line 3)`,
      `  ${f}:6: name: duplicate key 'name' (first at line 1)`,
    ]);
  });

  it('reports malformed YAML with its line', () => {
    const f = write('name: x\nplays:\n  - hosts: [all\n');
    expect(() => loadPlaybook(f, comps)).toThrow(/pb\.yml:\d+: malformed YAML/);
  });

  it('resolves hosts by role, group and name, intersected with the limit', () => {
    const f = write(
      'name: x\nplays:\n  - hosts: etcd\n    component: etcd\n  - hosts: lb1,dc1\n    serial: true\n    tasks:\n      - packages: [socat]\n',
    );
    const i = inv();
    const steps = resolvePlays(loadPlaybook(f, comps), i, comps);
    expect(steps.map((s) => [s.step.id, s.hosts.map((h) => h.name), Boolean(s.step.serial)])).toEqual([
      ['etcd.install', ['pg1'], false],
      ['etcd.config', ['pg1'], false],
      ['x.2', ['pg1', 'lb1'], true],
    ]);
    const limited = resolvePlays(loadPlaybook(f, comps), i, comps, [i.hosts[1]]);
    expect(limited.map((s) => s.hosts.map((h) => h.name))).toEqual([[], [], ['lb1']]);
    const bad = write('name: x\nplays:\n  - hosts: etdc\n    component: etcd\n');
    expect(() => resolvePlays(loadPlaybook(bad, comps), i, comps)).toThrow(
      /no host or group named 'etdc'.*did you mean 'etcd'/,
    );
  });

  it('turns tasks into resources, rendering templates with host vars', () => {
    const pb = loadPlaybook(findPlaybook('demo'), comps);
    const i = inv();
    const host = { ...i.hosts[0], vars: { demo_greeting: 'hi' } };
    const ctx = {
      host,
      inventory: i,
      hosts: i.hosts,
      secrets: {},
      check: true,
      log: () => undefined,
      render: (n: string, v: Record<string, unknown>) => renderTemplate(n, v),
    } as StepContext;
    const rs = taskResources(pb.plays[0].tasks!, ctx);
    expect(rs.map((r) => r.kind)).toEqual(['packages', 'file', 'file', 'service']);
    const greeting = rs[1] as { content: string; notify: unknown };
    expect(greeting.content).toBe('hi from pg1 (10.9.0.11), cluster c\n');
    expect(greeting.notify).toEqual([{ service: 'pgha-demo', action: 'restart' }]);
  });
});

describe('playbook tasks', () => {
  it('refuses a task with two actions, naming them', () => {
    const f = write('name: x\nplays:\n  - hosts: all\n    tasks:\n      - packages: [a]\n        service: {name: b}\n');
    expect(() => loadPlaybook(f, comps)).toThrow(
      /pb\.yml:5: plays\.0\.tasks\.0: has more than one of 'file', 'directory', 'packages', 'service', 'command'/,
    );
  });
});
