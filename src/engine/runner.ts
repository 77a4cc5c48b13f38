// The runner: steps in order; within a step, its hosts in parallel (or one at a time, in a stated order, for a
// rolling step). Per host: facts (1 round trip) -> resources -> probe (1 round trip) -> changes -> apply -> verify.
// A failed host lets the other hosts of the step finish, then stops the run with a per-host report.
import type { Host } from '../inventory/types.js';
import type { Change, FactSpec, Facts, Resource, Step, StepContext, StepGroupContext, Transport } from './types.js';
import { factsAndProbe, probe, probeIdentity, type ProbeResult } from './probe.js';
import { PENDING_DIR, PENDING_FACT, clearScript, pendingFact, type Pending } from './pending.js';
import { planChanges } from './plan.js';
import { applyChanges } from './apply.js';
import { TEMPLATES_DIR, renderTemplate } from './template.js';
import { RunError } from '../util/errors.js';
import { mask } from './mask.js';
import { planReads, readHostOnce, type HostRead } from './prefetch.js';
import { PrefetchMiss, ReplayTransport, attempt } from './replay.js';
import { failedResult, type HostStepResult, type RunSettings } from './run-types.js';

export type { HostStepResult, RunEvents, RunSettings } from './run-types.js';

export class Runner {
  readonly results: HostStepResult[] = [];
  constructor(readonly s: RunSettings) {}

  /** The read made at the start of the run, by host (./prefetch.ts). */
  private pre = new Map<string, HostRead>();
  /** Set once anything was changed in the run (or a check could not be answered from the read). */
  private changedSinceRead = false;

  /**
   * One round trip per host before the steps run: the facts and guessed probes of every step on the host, and
   * the scripts its checks read. Until something changes in the run, steps are planned and checked from it.
   */
  async prefetch(
    steps: { step: Step; hosts: Host[] }[],
    /** Read-only scripts the run reads outside the steps (through readOnly). */
    extra: { host: string; script: string }[] = [],
  ): Promise<void> {
    const dir = this.s.pendingDir ?? PENDING_DIR;
    const plans = planReads(
      steps,
      (h) => this.hostContext(h),
      (hs) => this.groupContext(hs),
      () => ({ [PENDING_FACT]: pendingFact(dir) }),
    );
    for (const r of extra) {
      const p = plans.get(r.host);
      if (p && !p.reads.includes(r.script)) p.reads.push(r.script);
    }
    const failures: { host: string; error: Error }[] = [];
    await Promise.all(
      [...plans].map(async ([name, p]) => {
        const t = this.s.transports.get(name);
        if (!t) return;
        try {
          const started = Date.now();
          this.pre.set(name, await readHostOnce(t, p, this.s.diff));
          if (process.env.PGHA_TRACE_PREFETCH)
            process.stderr.write(`pgha: read ${name} in ${Date.now() - started} ms (${p.reads.length} check reads)\n`);
        } catch (e) {
          failures.push({ host: name, error: e as Error });
        }
      }),
    );
    if (failures.length) throw new RunError('read the hosts', failures);
  }

  /** A read-only look at the hosts outside the steps, answered from the read while it stands. */
  readOnly<T>(g: StepGroupContext, fn: (g: StepGroupContext) => Promise<T>): Promise<T> {
    return this.groupHook(g, fn);
  }

  /** Something outside the steps changed the hosts: from now on every step reads them again. */
  readAgain(): void {
    this.changedSinceRead = true;
  }

  /** Whether the read still stands: nothing changed anywhere in the run so far. */
  private readStands(): boolean {
    return this.pre.size > 0 && !this.changedSinceRead;
  }

  private replayTransports(onLive: () => void): Map<string, Transport> {
    return new Map(
      [...this.s.transports].map(([n, t]) => [n, new ReplayTransport(t, this.pre.get(n)?.reads ?? new Map(), onLive)]),
    );
  }

  /** A check or hook answered from the read when it stands and `changed` is false; otherwise against the hosts. */
  private async fromRead<T>(
    changed: boolean,
    log: (line: string) => void,
    fromRead: (log: (line: string) => void, transports: Map<string, Transport>) => Promise<T>,
    live: () => Promise<T>,
  ): Promise<T> {
    if (!changed && this.readStands()) {
      let live = false;
      const a = await attempt(
        (l) =>
          fromRead(
            l,
            this.replayTransports(() => (live = true)),
          ),
        log,
      );
      // A script beyond the read may have changed something; a check that failed on the read found the hosts
      // not as read: either way later steps are read again.
      if (live || !a) this.changedSinceRead = true;
      if (a) return a.value;
    }
    return live();
  }

  private groupHook<T>(g: StepGroupContext, fn: (g: StepGroupContext) => Promise<T>): Promise<T> {
    return this.fromRead(
      false,
      g.log,
      (log, transports) =>
        fn({
          ...g,
          transports,
          log,
          confirm: async () => {
            throw new PrefetchMiss('a question to the user');
          },
        }),
      () => fn(g),
    );
  }

  private log = (line: string, host?: string) => this.s.events.log?.(mask(line), host);

  groupContext(hosts: Host[]): StepGroupContext {
    return {
      inventory: this.s.inventory,
      hosts,
      transports: this.s.transports,
      secrets: this.s.secrets,
      check: this.s.check,
      log: (l) => this.log(l),
      changedInRun: (stepId) =>
        this.s.check ? [] : this.results.filter((r) => r.step === stepId && r.changes.length > 0).map((r) => r.host),
      confirm: this.s.confirm,
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
    const { resources, probes, pending } = await this.readHost(step, ctx, t);
    const planned = planChanges(resources, probes, this.s.diff);
    const changes: Change[] = planned.map((p) => ({
      host: host.name,
      step: step.id,
      resource: p.resource,
      summary: mask(p.summary),
      diff: p.diff,
    }));
    // Restarts/reloads an earlier run recorded but did not see through, for services this step notifies.
    const carried: Pending = new Map();
    for (const r of resources) {
      for (const n of ('notify' in r ? r.notify : undefined) ?? []) {
        const a = pending.get(n.service);
        if (a && carried.get(n.service) !== 'restart') carried.set(n.service, a);
      }
    }
    for (const [svc, action] of carried) {
      const r =
        resources.find((x) => x.kind === 'service' && x.name === svc) ??
        resources.find((x) => 'notify' in x && x.notify?.some((n) => n.service === svc))!;
      changes.push({
        host: host.name,
        step: step.id,
        resource: r,
        summary: `${action} ${svc} (left pending by an earlier run that did not finish)`,
      });
    }
    let restarted: string[] = [];
    let reloaded: string[] = [];
    let notified: string[] = [];
    if (!this.s.check) {
      if (planned.length || carried.size) {
        this.changedSinceRead = true;
        const a = await applyChanges(t, planned, resources, (l) => this.log(l, host.name), {
          pending: carried,
          pendingDir: this.s.pendingDir,
        });
        restarted = a.restarted;
        reloaded = a.reloaded;
        notified = a.notified;
      }
      const changed = planned.length + carried.size > 0;
      if (step.verify)
        await this.fromRead(
          changed,
          ctx.log,
          (log, ts) => step.verify!({ ...ctx, log }, ts.get(host.name)!, { changed }),
          () => step.verify!(ctx, t, { changed }),
        );
    }
    const verb = this.s.check ? 'would change' : 'changed';
    const n = planned.length + carried.size;
    const reason = n
      ? `${verb} ${n} of ${resources.length + carried.size}${restarted.length ? `, restarted ${restarted.join(' ')}` : ''}${reloaded.length ? `, reloaded ${reloaded.join(' ')}` : ''}`
      : resources.length
        ? `no changes: all ${resources.length} resources as wanted`
        : 'no changes: nothing to manage here';
    return {
      host: host.name,
      step: step.id,
      changes,
      restarted,
      reloaded,
      reason,
      roundTrips: t.roundTrips - tripsBefore,
      notified,
    };
  }

  /**
   * Facts, resources and their probes. A step without facts: one round trip (the probe). A step with facts:
   * its resources are first guessed with no facts, and the guess is probed together with the facts in one
   * round trip; only resources the guess missed cost a second one.
   */
  private async readHost(
    step: Step,
    ctx: StepContext,
    t: Transport,
  ): Promise<{ facts: Facts; resources: Resource[]; probes: ProbeResult[]; pending: Pending }> {
    const pre = this.readStands() ? this.pre.get(ctx.host.name) : undefined;
    const read = pre?.steps.get(step);
    if (pre && read) {
      const resources = await step.resources(ctx, read.facts);
      const known = new Map(read.guess.map((r, i) => [probeIdentity(r), read.probes[i]]));
      const missing = resources.filter((r) => !known.has(probeIdentity(r)));
      const extra = missing.length ? await probe(t, missing, this.s.diff) : [];
      missing.forEach((r, i) => known.set(probeIdentity(r), extra[i]));
      const probes = resources.map((r) => known.get(probeIdentity(r))!);
      return { facts: read.facts, resources, probes, pending: pre.own[PENDING_FACT] as Pending };
    }
    // The notification records ride along with the first round trip (read only where they can matter).
    const withPending = (specs: Record<string, FactSpec>) => ({
      ...specs,
      [PENDING_FACT]: pendingFact(this.s.pendingDir ?? PENDING_DIR),
    });
    if (!step.facts) {
      const resources = await step.resources(ctx, {});
      if (!resources.length) return { facts: {}, resources, probes: [], pending: new Map() };
      const read = await factsAndProbe(t, withPending({}), resources, this.s.diff);
      return { facts: {}, resources, probes: read.probes, pending: read.facts[PENDING_FACT] as Pending };
    }
    let guess: Resource[];
    try {
      guess = await step.resources(ctx, {});
    } catch {
      guess = []; // this step cannot plan without its facts
    }
    const all = await factsAndProbe(t, withPending(step.facts(ctx)), guess, this.s.diff);
    const pending = all.facts[PENDING_FACT] as Pending;
    const first = {
      facts: Object.fromEntries(Object.entries(all.facts).filter(([k]) => k !== PENDING_FACT)),
      probes: all.probes,
    };
    const resources = await step.resources(ctx, first.facts);
    const known = new Map(guess.map((r, i) => [probeIdentity(r), first.probes[i]]));
    const missing = resources.filter((r) => !known.has(probeIdentity(r)));
    const extra = missing.length ? await probe(t, missing, this.s.diff) : [];
    missing.forEach((r, i) => known.set(probeIdentity(r), extra[i]));
    return { facts: first.facts, resources, probes: resources.map((r) => known.get(probeIdentity(r))!), pending };
  }

  /** Wall time of each step, in run order. */
  readonly stepSeconds: { step: string; seconds: number }[] = [];

  async runStep(step: Step, hosts: Host[]): Promise<HostStepResult[]> {
    if (hosts.length === 0) return [];
    const started = Date.now();
    try {
      return await this.runStepTimed(step, hosts);
    } finally {
      this.stepSeconds.push({ step: step.id, seconds: (Date.now() - started) / 1000 });
    }
  }

  private async runStepTimed(step: Step, hosts: Host[]): Promise<HostStepResult[]> {
    this.s.events.stepStart?.(step, hosts);
    const g = this.groupContext(hosts);
    if (step.before) await this.groupHook(g, (x) => step.before!(x));
    const one = async (h: Host): Promise<HostStepResult> => {
      try {
        const r = await this.runOnHost(step, h);
        this.s.events.hostDone?.(step, r);
        return r;
      } catch (e) {
        const r = failedResult(step, h, e as Error);
        this.s.events.hostDone?.(step, r);
        return r;
      }
    };
    let results: HostStepResult[];
    if (step.serial) {
      const order = step.order ? await this.groupHook(g, (x) => step.order!(x)) : hosts;
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
        await this.groupHook(g, (x) => step.verifyGroup!(x));
      } catch (e) {
        this.s.events.stepDone?.(step, results);
        throw new RunError(step.id, [{ host: (e as { host?: string }).host ?? 'cluster', error: e as Error }]);
      }
    }
    await this.clearPending(results);
    this.s.events.stepDone?.(step, results);
    return results;
  }

  /**
   * One host of a step that has no group work (no before, verifyGroup, order or serial): what runStep does for that
   * host alone, for a schedule that moves each host on by itself. A failure is returned in `error`.
   */
  async runHost(step: Step, host: Host): Promise<HostStepResult> {
    let r: HostStepResult;
    try {
      r = await this.runOnHost(step, host);
    } catch (e) {
      r = failedResult(step, host, e as Error);
    }
    this.results.push(r);
    if (!r.error) {
      try {
        await this.clearPending([r]);
      } catch (e) {
        r.error = (e as RunError).failures?.[0]?.error ?? (e as Error);
      }
    }
    this.s.events.hostDone?.(step, r);
    return r;
  }

  /** The step verified: the restarts/reloads it did are done for good, so their records go. */
  private async clearPending(results: HostStepResult[]): Promise<void> {
    await Promise.all(
      results
        .filter((r) => r.notified?.length)
        .map(async (r) => {
          const t = this.s.transports.get(r.host);
          const res = await t?.exec(clearScript(r.notified!, this.s.pendingDir ?? PENDING_DIR), { timeoutMs: 60_000 });
          if (res && res.code !== 0)
            throw new RunError('clear notifications', [
              { host: r.host, error: new Error(`cannot remove notification records: ${res.stderr.trim()}`) },
            ]);
        }),
    );
  }

  totals() {
    const changed = this.results.filter((r) => r.changes.length).length;
    const changes = this.results.reduce((n, r) => n + r.changes.length, 0);
    const restarted = this.results.flatMap((r) => r.restarted.map((s) => `${r.host}:${s}`));
    const reloaded = this.results.flatMap((r) => r.reloaded.map((s) => `${r.host}:${s}`));
    return { changes, hostStepsChanged: changed, restarted, reloaded };
  }
}
