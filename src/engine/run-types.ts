// What a run is given and what it gives back: the runner's settings, its events and each host's result of a step.
import type { Host, Inventory } from '../inventory/types.js';
import type { Change, Step, StepGroupContext, Transport } from './types.js';

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
  /** Services restarted/reloaded (or started) for this step's changes: their records are cleared once it verified. */
  notified?: string[];
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
  /** Asks before a repair that deletes data (StepGroupContext.confirm). */
  confirm?: StepGroupContext['confirm'];
  /** Directory of the notification records on the hosts (default PENDING_DIR; tests point it elsewhere). */
  pendingDir?: string;
}

/** The result of a host whose step threw. */
export function failedResult(step: Step, host: Host, error: Error): HostStepResult {
  return { host: host.name, step: step.id, changes: [], restarted: [], reloaded: [], reason: 'failed', error };
}
