// The runner: steps in order; within a step, its hosts in parallel (or one at a time, in a stated order, for a
// rolling step). Per host: facts (1 round trip) -> resources -> probe (1 round trip) -> changes -> apply -> verify.
// A failed host lets the other hosts of the step finish, then stops the run with a per-host report.
import type { Host, Inventory } from '../inventory/types.js';
import type { Change, Facts, Resource, Step, StepContext, StepGroupContext, Transport } from './types.js';
import { factsAndProbe, probe, probeIdentity, type ProbeResult } from './probe.js';
import { planChanges } from './plan.js';
import { applyChanges } from './apply.js';
import { TEMPLATES_DIR, renderTemplate } from './template.js';
import { RunError } from './errors.js';
import { mask } from './mask.js';

export interface HostStepResult {
  host: string;
  step: string;
  changes: Change[];
  restarted: string[];
  reloaded: string[];
  /** Why nothing changed, or what was done. */
  reason: string;
  error?: Error;
  /** SSH round trips this step made on this host (facts, probes, apply, verify). */
  roundTrips?: number;
}

export interface RunEvents {
  stepStart?(step: Step, hosts: Host[]): void;
  hostDone?(step: Step, r: HostStepResult): void;
  stepDone?(step: Step, results: HostStepResult[]): void;
  log?(line: string, host?: string): void;
}

export interface RunSettings {
  inventory: Inventory;
  secrets: Record<string, string>;
  transports: Map<string, Transport>;
  check: boolean;
  diff: boolean;
  events: RunEvents;
  /** Extra directories searched for templates (a user playbook's own folder). */
  templateDirs?: string[];
}

export class Runner {
  readonly results: HostStepResult[] = [];
  constructor(readonly s: RunSettings) {}

  private log = (line: string, host?: string) => this.s.events.log?.(mask(line), host);

  groupContext(hosts: Host[]): StepGroupContext {
    return {
      inventory: this.s.inventory,
      hosts,
      transports: this.s.transports,
      secrets: this.s.secrets,
      check: this.s.check,
      log: (l) => this.log(l),
    };
  }

  hostContext(host: Host): StepContext {
    const dirs = [...(this.s.templateDirs ?? [])];
    return {
      host,
      inventory: this.s.inventory,
      hosts: this.s.inventory.hosts,
      secrets: this.s.secrets,
      render: (name, vars) => renderTemplate(name, vars, [...dirs, TEMPLATES_DIR]),
      check: this.s.check,
      log: (l) => this.log(l, host.name),
    };
  }

  async runOnHost(step: Step, host: Host): Promise<HostStepResult> {
    const t = this.s.transports.get(host.name);
    if (!t) throw new Error(`no connection to ${host.name}`);
    const ctx = this.hostContext(host);
    const tripsBefore = t.roundTrips;
    const { facts, resources, probes } = await this.readHost(step, ctx, t);
    const planned = planChanges(resources, probes, this.s.diff);
    const changes: Change[] = planned.map((p) => ({ host: host.name, step: step.id, resource: p.resource, summary: mask(p.summary), diff: p.diff }));
    let restarted: string[] = [];
    let reloaded: string[] = [];
    if (!this.s.check) {
      if (planned.length) {
        const a = await applyChanges(t, planned, resources, (l) => this.log(l, host.name));
        restarted = a.restarted;
        reloaded = a.reloaded;
      }
      if (step.verify) await step.verify(ctx, t);
    }
    const verb = this.s.check ? 'would change' : 'changed';
    const reason = planned.length
      ? `${verb} ${planned.length} of ${resources.length}${restarted.length ? `, restarted ${restarted.join(' ')}` : ''}${reloaded.length ? `, reloaded ${reloaded.join(' ')}` : ''}`
      : resources.length ? `no changes: all ${resources.length} resources as wanted` : 'no changes: nothing to manage here';
    return { host: host.name, step: step.id, changes, restarted, reloaded, reason, roundTrips: t.roundTrips - tripsBefore };
  }

  /**
   * Facts, resources and their probes. A step without facts: one round trip (the probe). A step with facts:
   * its resources are first guessed with no facts, and the guess is probed together with the facts in one
   * round trip; only resources the guess missed cost a second one.
   */
  private async readHost(step: Step, ctx: StepContext, t: Transport): Promise<{ facts: Facts; resources: Resource[]; probes: ProbeResult[] }> {
    if (!step.facts) {
      const resources = await step.resources(ctx, {});
      return { facts: {}, resources, probes: await probe(t, resources, this.s.diff) };
    }
    let guess: Resource[] = [];
    try {
      guess = await step.resources(ctx, {});
    } catch {
      guess = []; // this step cannot plan without its facts
    }
    const first = await factsAndProbe(t, step.facts(ctx), guess, this.s.diff);
    const resources = await step.resources(ctx, first.facts);
    const known = new Map(guess.map((r, i) => [probeIdentity(r, this.s.diff), first.probes[i]]));
    const missing = resources.filter((r) => !known.has(probeIdentity(r, this.s.diff)));
    const extra = missing.length ? await probe(t, missing, this.s.diff) : [];
    missing.forEach((r, i) => known.set(probeIdentity(r, this.s.diff), extra[i]));
    return { facts: first.facts, resources, probes: resources.map((r) => known.get(probeIdentity(r, this.s.diff))!) };
  }

  async runStep(step: Step, hosts: Host[]): Promise<HostStepResult[]> {
    if (hosts.length === 0) return [];
    this.s.events.stepStart?.(step, hosts);
    const g = this.groupContext(hosts);
    if (step.before) await step.before(g);
    const one = async (h: Host): Promise<HostStepResult> => {
      try {
        const r = await this.runOnHost(step, h);
        this.s.events.hostDone?.(step, r);
        return r;
      } catch (e) {
        const r: HostStepResult = { host: h.name, step: step.id, changes: [], restarted: [], reloaded: [], reason: 'failed', error: e as Error };
        this.s.events.hostDone?.(step, r);
        return r;
      }
    };
    let results: HostStepResult[];
    if (step.serial) {
      const order = step.order ? await step.order(g) : hosts;
      results = [];
      for (const h of order) {
        const r = await one(h);
        results.push(r);
        if (r.error) break; // a rolling step never continues past a failed host
      }
    } else {
      results = await Promise.all(hosts.map(one));
    }
    this.results.push(...results);
    const failures = results.filter((r) => r.error).map((r) => ({ host: r.host, error: r.error as Error }));
    if (failures.length) {
      this.s.events.stepDone?.(step, results);
      throw new RunError(step.id, failures);
    }
    if (step.verifyGroup && !this.s.check) {
      try {
        await step.verifyGroup(g);
      } catch (e) {
        this.s.events.stepDone?.(step, results);
        throw new RunError(step.id, [{ host: (e as { host?: string }).host ?? 'cluster', error: e as Error }]);
      }
    }
    this.s.events.stepDone?.(step, results);
    return results;
  }

  totals() {
    const changed = this.results.filter((r) => r.changes.length).length;
    const changes = this.results.reduce((n, r) => n + r.changes.length, 0);
    const restarted = this.results.flatMap((r) => r.restarted.map((s) => `${r.host}:${s}`));
    const reloaded = this.results.flatMap((r) => r.reloaded.map((s) => `${r.host}:${s}`));
    return { changes, hostStepsChanged: changed, restarted, reloaded };
  }
}
