// The engine's vocabulary. A step reads facts from a host and returns the resources it wants there;
// the engine probes those resources (one batched remote script per step and host), turns the
// differences into actions, and applies them. Plan and apply run the same code.
import type { Host, Inventory } from '../inventory/types.js';
import type { KindName, ResourceOf } from './kinds/index.js';

export interface ExecOptions {
  stdin?: string;
  timeoutMs?: number;
  /** Values to mask in any error or log line produced from this call (added to the global masker too). */
  secrets?: string[];
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** One connection to one host. Every exec() is one SSH round trip, counted. */
export interface Transport {
  readonly host: Host;
  /** Run a POSIX sh script on the host (as root: through `sudo -n` when the SSH user is not root and become is on). */
  exec(script: string, opts?: ExecOptions): Promise<ExecResult>;
  readonly roundTrips: number;
  close(): Promise<void>;
}

/** A fact: a read-only shell snippet run on the host, and a parser for what it prints. */
export interface FactSpec<T = unknown> {
  script: string;
  parse(stdout: string): T;
}

export type Facts = Record<string, unknown>;

/** The fact specs of a step whose facts have the types F: one spec per fact, its parser giving that type. */
export type FactSpecs<F extends object> = { [K in keyof F]: FactSpec<F[K]> };

/** Service to restart or reload when a resource changed in this run (decided at apply time). */
export interface Notify {
  service: string;
  action: 'restart' | 'reload';
}

// Each kind of resource is one module under ./kinds (its identity, probe, planner and apply script).
export type { FileResource } from './kinds/file.js';
export type { DirectoryResource } from './kinds/directory.js';
export type { PackagesResource } from './kinds/packages.js';
export type { ServiceResource } from './kinds/service.js';
export type { CommandResource } from './kinds/command.js';

/** Any resource a step may return: one of the kinds of the registry (./kinds/index.ts). */
export type Resource = ResourceOf<KindName>;

/** A change the engine found for one resource on one host. Plan prints these; apply performs them. */
export interface Change {
  host: string;
  step: string;
  resource: Resource;
  /** e.g. "create /etc/haproxy/haproxy.cfg", "install etcd-server", "start patroni" */
  summary: string;
  /** Unified diff for files (masked; absent for secret files). */
  diff?: string;
}

export interface StepContext {
  host: Host;
  inventory: Inventory;
  /** All hosts of the inventory (after --limit is applied, the full list is still here). */
  hosts: Host[];
  /** Cluster secrets (generated once, kept beside the inventory, or from the environment). */
  secrets: Record<string, string>;
  /** Render templates/<name> with handlebars (strict: a missing variable is an error naming the template). */
  render(name: string, vars: Record<string, unknown>): string;
  /** True in plan (--check): nothing on any host may change. */
  check: boolean;
  log(line: string): void;
}

/** What a step sees once per run, across all its hosts (for cross-host decisions). */
export interface StepGroupContext {
  inventory: Inventory;
  hosts: Host[]; // the hosts this step runs on
  transports: Map<string, Transport>; // by host name, every connected host of the run
  secrets: Record<string, string>;
  check: boolean;
  log(line: string): void;
  /** Hosts on which a step (by id) changed something earlier in this run (never in check mode). */
  changedInRun(stepId: string): string[];
  /** Ask before a repair that deletes data (on a terminal, or --yes); throws when refused. Absent: refused. */
  confirm?(what: ConfirmRequest): Promise<void>;
}

/** What a step asks to confirm: the changes per host and what they lose. */
export interface ConfirmRequest {
  command: string;
  changes: { host: string; action: 'change' | 'delete'; summary: string }[];
  lost: string[];
}

/** A step; F: the types of its facts (see defineStep in ./step.ts). */
export interface Step<F extends object = Facts> {
  /** Stable id, e.g. "etcd.install". */
  id: string;
  title: string;
  /** Rolling: one host at a time, in the order given by order() (default: inventory order). */
  serial?: boolean;
  /**
   * Work on other hosts this step depends on (see src/engine/schedule.ts): step ids ("patroni.config") or component
   * prefixes ("etcd": every etcd.* step) listed earlier in the playbook, complete on all their hosts before this
   * step starts on any host. A name that matches no earlier step of the run is satisfied.
   */
  needs?: string[];
  /**
   * Runs over its whole group at once, once every host of the group is done with its earlier steps (as a step
   * with before(), verifyGroup(), order() or serial always does). Without it, a step runs on each host as soon as
   * that host and the step's needs are ready.
   */
  barrier?: boolean;
  /**
   * What the step changes for the whole cluster at once (e.g. "PATCH /config changes every member"). With
   * --limit such a step does not run: `plan` and `up` say so, and a run without --limit applies it.
   */
  wholeCluster?: string;
  /** Host order for a rolling step (e.g. Patroni replicas first, leader last). */
  order?(ctx: StepGroupContext): Promise<Host[]>;
  /** Facts to read from each host before planning, gathered in one remote script with the probes of the guessed resources. */
  facts?(ctx: StepContext): FactSpecs<F>;
  /**
   * Desired state on one host, given its facts. Also called once before the facts are read, with none of them,
   * to guess what to probe in the same round trip: a step plans what it can without them, or throws.
   */
  resources(ctx: StepContext, facts: Partial<F>): Resource[] | Promise<Resource[]>;
  /** Runs once before the hosts are planned/applied (e.g. etcd member add on a running member). Must not change anything when ctx.check. */
  before?(ctx: StepGroupContext): Promise<void>;
  /**
   * Verify on one host after apply (also after a no-op: `r.changed` says whether this step changed anything on
   * the host in this run); throw CheckError on failure. Bounded waits only.
   */
  verify?(ctx: StepContext, t: Transport, r?: { changed: boolean }): Promise<void>;
  /** Verify once across all hosts after they were applied. */
  verifyGroup?(ctx: StepGroupContext): Promise<void>;
  /** A step that plans from the steps after it in the playbook: the step to run, given those (and their hosts). */
  withLater?(later: { step: Step; hosts: Host[] }[]): Step;
  /**
   * The read-only scripts verify runs on this host, exactly as it runs them (see ../engine/prefetch.ts): read at
   * the start of the run, so that on a run that changes nothing verify is answered from that read.
   */
  reads?(ctx: StepContext): string[];
  /** The same for before, order and verifyGroup: each read-only script with the host it runs on. */
  groupReads?(ctx: StepGroupContext): { host: string; script: string }[];
}

/** A component: one program's steps, facts and checks. */
export interface Component {
  name: string;
  steps: Step[];
}

/**
 * Semantics the engine guarantees for resources (applied in the order a step returns them, per host):
 * - file: compared by sha256 and owner/group/mode. A change is written to a temp file beside the target, checked
 *   with `validate` (if any), then renamed over it; the previous version is kept under /var/lib/pgha/backup/<path>.
 *   Missing parent directories are created (0755 root).
 * - directory: created / chowned / chmodded as needed.
 * - packages: `apt-get install -y --no-install-recommends` non-interactively, waiting for the dpkg lock; only the
 *   missing ones (dpkg-query) are installed, in one command.
 * - service: enabled/disabled and started/stopped as asked (a failed unit is reset-failed before a start).
 * - command: runs when its `unless` test fails or its `creates` path is missing (no guard: runs every time, which
 *   a step should avoid).
 * - notify: once the host's resources are applied, each notified service is restarted or reloaded once, unless it
 *   was started by this very run (then it already runs the new state) or it is meant to be stopped. A restart wins
 *   over a reload.
 */
