// A play's `tasks` (built-in actions written in YAML, as in an Ansible play) become one engine Step.
import type { Host, Inventory } from '../inventory/types.js';
import type { Notify, Resource, Step, StepContext } from '../engine/types.js';

export interface TaskSpec {
  name?: string;
  file?: {
    path: string;
    template?: string;
    content?: string;
    vars?: Record<string, unknown>;
    owner?: string;
    group?: string;
    mode?: string;
    validate?: string;
    secret?: boolean;
    restarts?: string[];
    reloads?: string[];
  };
  directory?: { path: string; owner?: string; group?: string; mode?: string };
  packages?: string[];
  service?: { name: string; enabled?: boolean; state?: 'started' | 'stopped' };
  command?: {
    argv?: string[];
    script?: string;
    unless?: string;
    creates?: string;
    restarts?: string[];
    reloads?: string[];
  };
}

function notifies(t: { restarts?: string[]; reloads?: string[] }): Notify[] | undefined {
  const n: Notify[] = [
    ...(t.restarts ?? []).map((service) => ({ service, action: 'restart' as const })),
    ...(t.reloads ?? []).map((service) => ({ service, action: 'reload' as const })),
  ];
  return n.length ? n : undefined;
}

/** Variables a user template sees: the host's merged vars at top level, plus host, cluster and inventory facts. */
export function templateVars(host: Host, inv: Inventory, extra?: Record<string, unknown>): Record<string, unknown> {
  return {
    ...host.vars,
    host: { name: host.name, address: host.address, roles: host.roles, groups: host.groups },
    cluster: inv.cluster,
    vip: inv.vip ?? '',
    hosts: inv.hosts.map((h) => ({ name: h.name, address: h.address, roles: h.roles })),
    ...extra,
  };
}

export function taskResources(tasks: TaskSpec[], ctx: StepContext): Resource[] {
  return tasks.map((t): Resource => {
    if (t.file) {
      const f = t.file;
      const content =
        f.template !== undefined
          ? ctx.render(f.template, templateVars(ctx.host, ctx.inventory, f.vars))
          : (f.content ?? '');
      return {
        kind: 'file',
        path: f.path,
        content,
        owner: f.owner,
        group: f.group,
        mode: f.mode,
        validate: f.validate,
        secret: f.secret,
        notify: notifies(f),
      };
    }
    if (t.directory) return { kind: 'directory', ...t.directory };
    if (t.packages) return { kind: 'packages', names: t.packages };
    if (t.service) return { kind: 'service', ...t.service };
    const c = t.command!;
    return {
      kind: 'command',
      label: t.name ?? (c.argv ? c.argv.join(' ') : (c.script ?? '').split('\n')[0]),
      argv: c.argv,
      script: c.script,
      unless: c.unless,
      creates: c.creates,
      notify: notifies(c),
    };
  });
}

export function tasksStep(id: string, title: string, tasks: TaskSpec[], serial = false): Step {
  return { id, title, serial, resources: (ctx) => taskResources(tasks, ctx) };
}
