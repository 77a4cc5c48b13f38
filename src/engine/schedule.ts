// The scheduler: a playbook's resolved steps as a dependency graph, run with independent work overlapping.
// - Each host keeps the playbook's order: a step starts on a host once every earlier step with that host is done there.
// - A plain step (no before(), verifyGroup(), order(), serial or barrier) runs on each of its hosts on its own: a host
//   moves on as soon as it and the step's needs are ready, without waiting for the step's other hosts.
// - A group step (any of those) runs over all its hosts at once (Runner.runStep), once each of them is ready.
// - `needs` names earlier steps (by id, or a component prefix: "etcd" is every etcd.* step) that must be done on all
//   their hosts first: cross-host dependencies (Patroni needs etcd formed, even on other hosts).
// A failure stops new work from starting; work in flight finishes, then the run fails with the error of the first
// failed step in playbook order (Schedule.errors has them all).
import type { Host } from '../inventory/types.js';
import type { Step } from './types.js';
import type { HostStepResult, RunEvents } from './runner.js';
import { RunError } from '../util/errors.js';

/** What the schedule needs from a runner (Runner has both). */
export interface StepRunner {
  /** A whole step over its hosts (before, hosts in parallel or in order, verifyGroup); throws RunError on failure. */
  runStep(step: Step, hosts: Host[]): Promise<HostStepResult[]>;
  /** One host of a plain step; a failure is returned in `error`, never thrown. */
  runHost(step: Step, host: Host): Promise<HostStepResult>;
}

/** `stopped`: started, then left unfinished on some of its hosts because another step failed. */
export type NodeState = 'waiting' | 'running' | 'done' | 'failed' | 'stopped' | 'not run';

export interface ScheduleNode {
  index: number;
  step: Step;
  hosts: Host[];
  /** Runs over its whole group at once. */
  group: boolean;
  /** Earlier nodes named by the step's needs. */
  needs: ScheduleNode[];
  state: NodeState;
  /** Hosts this step is running on now, and done on (for a group step: all at once). */
  running: Set<string>;
  done: Set<string>;
  results: HostStepResult[];
  startedAt?: number;
  endedAt?: number;
  /** Resolves once the node will not change any more (done, failed or not run). */
  settled: Promise<NodeState>;
}

export interface ScheduleOptions {
  /** stepStart/stepDone of plain steps (a group step's come from runStep itself). */
  events?: Pick<RunEvents, 'stepStart' | 'stepDone'>;
  /** A node started, made progress on a host, or settled. */
  onChange?(node: ScheduleNode): void;
  now?(): number;
}

/** Runs a step over its whole group: it has cross-host work of its own, is rolling, or says so. */
export function isGroupStep(step: Step): boolean {
  return Boolean(step.before || step.verifyGroup || step.order || step.serial || step.barrier);
}

/** Whether a name from `needs` names this step: its id, or the component prefix of its id. */
export function needMatches(name: string, stepId: string): boolean {
  return stepId === name || stepId.startsWith(`${name}.`);
}

export class Schedule {
  readonly nodes: ScheduleNode[];
  private inFlight = 0;
  private failures: { node: ScheduleNode; host?: string; error: Error }[] = [];
  private settle = new Map<ScheduleNode, (s: NodeState) => void>();
  private finished?: { resolve: () => void; reject: (e: Error) => void };
  private readonly now: () => number;

  constructor(
    private readonly runner: StepRunner,
    steps: { step: Step; hosts: Host[] }[],
    private readonly o: ScheduleOptions = {},
  ) {
    this.now = o.now ?? Date.now;
    this.nodes = [];
    steps.forEach(({ step, hosts }, index) => {
      const needs = this.nodes.filter((n) => (step.needs ?? []).some((name) => needMatches(name, n.step.id)));
      const node: ScheduleNode = {
        index,
        step,
        hosts,
        group: isGroupStep(step),
        needs,
        state: 'waiting',
        running: new Set(),
        done: new Set(),
        results: [],
        settled: undefined as unknown as Promise<NodeState>,
      };
      node.settled = new Promise((resolve) => this.settle.set(node, resolve));
      this.nodes.push(node);
      if (hosts.length === 0) this.close(node, 'done'); // no host: nothing to run, nothing to wait for
    });
  }

  /**
   * Once the run failed: each failed step's error, in playbook order. The run rejects with the first (steps that
   * fail at the same time are reported in the same order whatever their timing).
   */
  errors: Error[] = [];

  /** Wall time of each step that ran: its first start to its last end, in playbook order. */
  stepSeconds(): { step: string; seconds: number }[] {
    return this.nodes
      .filter((n) => n.startedAt !== undefined && n.endedAt !== undefined)
      .map((n) => ({ step: n.step.id, seconds: (n.endedAt! - n.startedAt!) / 1000 }));
  }

  /** Every step's results, in playbook order. */
  results(): HostStepResult[] {
    return this.nodes.flatMap((n) => n.results);
  }

  /** Runs the graph; rejects with the first failure once the work in flight has finished. */
  run(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.finished = { resolve, reject };
      this.pump();
    });
  }

  /** The node is done on host h: all of it for a group step, that host for a plain one. */
  private doneOn(n: ScheduleNode, h: string): boolean {
    return n.group ? n.state === 'done' : n.done.has(h);
  }

  /** Every earlier step with host h is done there, and every step this node needs is done everywhere. */
  private ready(n: ScheduleNode, hosts: string[]): boolean {
    if (n.needs.some((x) => x.state !== 'done')) return false;
    for (const before of this.nodes.slice(0, n.index)) {
      for (const h of hosts) if (before.hosts.some((x) => x.name === h) && !this.doneOn(before, h)) return false;
    }
    return true;
  }

  private pump(): void {
    if (this.failures.length === 0) {
      for (const n of this.nodes) {
        if (n.state === 'done' || n.state === 'failed') continue;
        if (n.group) {
          if (
            n.state === 'waiting' &&
            this.ready(
              n,
              n.hosts.map((h) => h.name),
            )
          )
            this.startGroup(n);
        } else {
          for (const h of n.hosts) {
            if (n.running.has(h.name) || n.done.has(h.name)) continue;
            if (this.ready(n, [h.name])) this.startHost(n, h);
          }
        }
      }
    }
    if (this.inFlight > 0) return;
    if (this.failures.length) {
      for (const n of this.nodes) {
        if (n.state === 'waiting') this.close(n, 'not run');
        else if (n.state === 'running') this.close(n, this.failures.some((f) => f.node === n) ? 'failed' : 'stopped');
      }
      this.errors = this.nodes.flatMap((n) => {
        const mine = this.failures.filter((f) => f.node === n);
        if (mine.length === 0) return [];
        if (n.group) return [mine[0]!.error];
        return [
          new RunError(
            n.step.id,
            mine.map((f) => ({ host: f.host!, error: f.error })),
          ),
        ];
      });
      return this.finished?.reject(this.errors[0]);
    }
    const open = this.nodes.filter((n) => n.state !== 'done');
    if (open.length === 0) return this.finished?.resolve();
    // Cannot happen: the earliest open node is always ready. Said rather than hung.
    this.finished?.reject(new Error(`schedule stuck before ${open.map((n) => n.step.id).join(', ')}`));
  }

  private begin(n: ScheduleNode): void {
    if (n.startedAt === undefined) {
      n.startedAt = this.now();
      n.state = 'running';
      if (!n.group) this.o.events?.stepStart?.(n.step, n.hosts);
    }
  }

  /** The node's final state; a plain step that started and did not finish says so with stepDone (a group step's runStep did). */
  private close(n: ScheduleNode, state: NodeState): void {
    const was = n.state;
    n.state = state;
    if (!n.group && was === 'running' && state !== 'done') this.o.events?.stepDone?.(n.step, this.sorted(n));
    this.settle.get(n)?.(state);
    this.o.onChange?.(n);
  }

  private sorted(n: ScheduleNode): HostStepResult[] {
    const at = (h: string) => n.hosts.findIndex((x) => x.name === h);
    return [...n.results].sort((a, b) => at(a.host) - at(b.host));
  }

  private startGroup(n: ScheduleNode): void {
    this.begin(n);
    n.hosts.forEach((h) => n.running.add(h.name));
    this.inFlight++;
    this.o.onChange?.(n);
    this.runner.runStep(n.step, n.hosts).then(
      (results) => {
        n.results.push(...results);
        n.running.clear();
        n.hosts.forEach((h) => n.done.add(h.name));
        n.endedAt = this.now();
        this.inFlight--;
        this.close(n, 'done');
        this.pump();
      },
      (e: unknown) => {
        const error = e instanceof Error ? e : new Error(String(e));
        n.running.clear();
        n.endedAt = this.now();
        this.failures.push({ node: n, error });
        this.inFlight--;
        this.close(n, 'failed');
        this.pump();
      },
    );
  }

  private startHost(n: ScheduleNode, h: Host): void {
    this.begin(n);
    n.running.add(h.name);
    this.inFlight++;
    this.o.onChange?.(n);
    const end = (r: HostStepResult) => {
      n.running.delete(h.name);
      n.results.push(r);
      n.endedAt = this.now();
      this.inFlight--;
      if (r.error) this.failures.push({ node: n, host: h.name, error: r.error });
      else n.done.add(h.name);
      if (n.done.size === n.hosts.length) {
        this.o.events?.stepDone?.(n.step, this.sorted(n));
        this.close(n, 'done');
      } else this.o.onChange?.(n);
      this.pump();
    };
    this.runner
      .runHost(n.step, h)
      .then(end, (e: unknown) => end(failed(n.step.id, h.name, e instanceof Error ? e : new Error(String(e)))));
  }
}

function failed(step: string, host: string, error: Error): HostStepResult {
  return { host, step, changes: [], restarted: [], reloaded: [], reason: 'failed', error };
}
