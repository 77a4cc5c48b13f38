// Playbooks: YAML step sequences validated by their own schema, resolved against the components and the inventory.
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Host, Inventory } from '../inventory/types.js';
import { selectHosts } from '../inventory/limit.js';
import type { Component, Step } from '../engine/types.js';
import { UserError } from '../util/errors.js';
import { packageRoot } from '../engine/template.js';
import { lineOf, locateAjvErrors, makeAjv, readYaml, throwLocated, type Located } from '../util/yamlfile.js';
import { nearest } from '../util/nearest.js';
import type { ValidateFunction } from 'ajv';
import { playbookSchema } from './schema.js';
import { type TaskSpec, tasksStep } from './tasks.js';

export interface PlaySpec {
  name?: string;
  hosts: string;
  component?: string;
  step?: string;
  tasks?: TaskSpec[];
  serial?: boolean;
}

export interface Playbook {
  file: string;
  dir: string;
  name: string;
  description?: string;
  plays: (PlaySpec & { line?: number })[];
}

export const PLAYBOOKS_DIR = join(packageRoot(), 'playbooks');

/** A playbook by path, or by name from the package's playbooks/ folder ("cluster" -> playbooks/cluster.yml). */
export function findPlaybook(nameOrPath: string): string {
  const candidates = [
    nameOrPath,
    resolve(nameOrPath),
    join(PLAYBOOKS_DIR, nameOrPath),
    join(PLAYBOOKS_DIR, `${nameOrPath}.yml`),
  ];
  const f = candidates.find((c) => (isAbsolute(c) || c.includes('/')) && existsSync(c) && /\.ya?ml$/.test(c));
  if (!f)
    throw new UserError(
      `playbook ${nameOrPath} not found`,
      `give a path to a .yml file, or a name from ${PLAYBOOKS_DIR}`,
    );
  return resolve(f);
}

let compiled: ValidateFunction | undefined;

export function loadPlaybook(file: string, components: Record<string, Component>): Playbook {
  const { doc, lines, data } = readYaml(file, 'playbook');
  const validate = (compiled ??= makeAjv().compile(playbookSchema));
  if (!validate(data))
    throwLocated(
      file,
      'playbook',
      locateAjvErrors(validate.errors ?? [], doc, lines),
      'see the playbook schema in src/playbook/schema.ts',
    );
  const pb = data as { name: string; description?: string; plays: PlaySpec[] };
  const errs: Located[] = [];
  const stepIds = Object.values(components).flatMap((c) => c.steps.map((s) => s.id));
  pb.plays.forEach((p, i) => {
    if (p.component && !components[p.component]) {
      const near = nearest(p.component, Object.keys(components));
      errs.push({
        line: lineOf(doc, lines, `/plays/${i}/component`),
        field: `plays.${i}.component`,
        message: `unknown component '${p.component}'${near ? `: did you mean '${near}'?` : ` (known: ${Object.keys(components).join(', ')})`}`,
      });
    }
    if (p.step && !stepIds.includes(p.step)) {
      const near = nearest(p.step, stepIds);
      errs.push({
        line: lineOf(doc, lines, `/plays/${i}/step`),
        field: `plays.${i}.step`,
        message: `unknown step '${p.step}'${near ? `: did you mean '${near}'?` : ''}`,
      });
    }
  });
  if (errs.length) throwLocated(file, 'playbook', errs, 'fix the names above');
  return {
    file,
    dir: dirname(file),
    name: pb.name,
    description: pb.description,
    plays: pb.plays.map((p, i) => ({ ...p, line: lineOf(doc, lines, `/plays/${i}`) })),
  };
}

export interface ResolvedStep {
  step: Step;
  hosts: Host[];
}

/** Expand plays into steps with their hosts (intersected with --limit). Plays whose hosts are all limited away are dropped. */
export function resolvePlays(
  pb: Playbook,
  inv: Inventory,
  components: Record<string, Component>,
  limit?: Host[],
): ResolvedStep[] {
  const out: ResolvedStep[] = [];
  const allow = limit ? new Set(limit.map((h) => h.name)) : undefined;
  pb.plays.forEach((p, i) => {
    const hosts = selectHosts(inv, p.hosts, {
      what: `${pb.file}:${p.line ?? '?'}: plays.${i}.hosts`,
      allowEmpty: true,
    }).filter((h) => !allow || allow.has(h.name));
    let steps: Step[];
    if (p.component) steps = components[p.component].steps;
    else if (p.step)
      steps = Object.values(components)
        .flatMap((c) => c.steps)
        .filter((s) => s.id === p.step);
    else steps = [tasksStep(`${pb.name}.${i + 1}`, p.name ?? `tasks (${p.tasks!.length})`, p.tasks!, p.serial)];
    for (const s of steps) out.push({ step: p.serial !== undefined ? { ...s, serial: p.serial } : s, hosts });
  });
  return out.map((x, i) => (x.step.withLater ? { ...x, step: x.step.withLater(out.slice(i + 1)) } : x));
}
