// Packages at once (packages_at_once, default true): on each host, every package the later steps of the playbook
// will install there, in one apt transaction right at the start, with the guards those steps put in place before
// their own install (etcd's policy-rc.d, PostgreSQL's createcluster drop-in, the exporters' and Prometheus's
// configs). The steps keep their own `packages` resources, which then change nothing. Off: each step installs its
// own packages, as it always could.
import type { Component, Resource, Step, StepContext } from '../../engine/types.js';
import type { ComponentEntry } from '../entry.js';
import { defineSettings } from '../settings.js';
import { defineStep } from '../../engine/step.js';
import {
  atOnceResources,
  collectInstalls,
  installedPackagesFact,
  type LaterStep,
} from '../../engine/packages-at-once.js';

export const packagesVars = defineSettings({
  atOnce: {
    name: 'packages_at_once',
    type: 'bool',
    default: true,
    level: 'cluster',
    doc:
      'Install every package a host needs in a run in one apt transaction at the start of the cluster playbook, with ' +
      "the steps' guards in place first (default true); false: each step installs its own packages.",
  },
});

export const PACKAGES_STEP = 'packages.all';

/** The step, bound to the steps that run after it (resolvePlays binds it: see Step.withLater). */
export function packagesAllStep(later: LaterStep[]): Step {
  const on = (ctx: StepContext) => packagesVars.read(ctx.inventory, ctx.host).atOnce;
  return defineStep({
    id: PACKAGES_STEP,
    title: 'Install every package of this run at once (packages_at_once)',
    facts: () => ({ installed: installedPackagesFact }),
    async resources(ctx, facts): Promise<Resource[]> {
      if (!on(ctx)) return [];
      return atOnceResources(await collectInstalls(later, ctx), facts.installed);
    },
  });
}

// Named in a playbook, it installs nothing until bound to the steps after it.
const all: Step = { ...packagesAllStep([]), withLater: packagesAllStep };

export const packages: Component = { name: 'packages', steps: [all] };

export const packagesEntry: ComponentEntry = { component: packages, settings: packagesVars, prefixes: ['packages_'] };
