// From desired resources and probed state to changes. Plan and apply both start here.
import type { Resource } from './types.js';
import type { ProbeResult } from './probe.js';
import { kindOf, type KindName, type OpOf } from './kinds/index.js';

export { fileDiff } from './kinds/file.js';

export interface PlannedChange {
  index: number; // position of the resource in the step's list
  resource: Resource;
  summary: string;
  diff?: string;
  /** What exactly to do (for apply). */
  ops: Op[];
}

/** An operation apply runs on a resource, of the resource's kind. */
export type Op = OpOf<KindName>;

export function planChanges(resources: Resource[], probes: ProbeResult[], withDiff: boolean): PlannedChange[] {
  const changes: PlannedChange[] = [];
  resources.forEach((r, index) => {
    const p = probes[index]!;
    if (p.kind !== r.kind) return; // a probe of another resource: nothing known, nothing planned
    const c = kindOf(r).plan(r, p, withDiff);
    if (c) changes.push({ index, resource: r, summary: c.summary, ops: c.ops, diff: c.diff });
  });
  return changes;
}
