// A resource kind: all the engine knows about one kind of resource, in one module. Probe, plan and apply
// dispatch on a resource's `kind` through the registry (./index.ts); a new kind is a new module and one line there.
import type { ExecOptions } from '../types.js';

/** What planning found for one resource that is not as wanted. */
export interface KindPlan<O> {
  /** The plan line, e.g. "create /etc/haproxy/haproxy.cfg", "install etcd-server", "start patroni". */
  summary: string;
  /** What apply does, in order. */
  ops: O[];
  /** Shown with --diff (masked). */
  diff?: string;
}

/**
 * R: the resource as a step writes it; P: its probed state; O: the operations apply can run on it.
 * Probe output lines read "<tag> <index> <fields>", the tag a letter that no other kind uses.
 */
export interface Kind<R extends { kind: string }, P extends { kind: R['kind'] }, O extends { op: string }> {
  readonly kind: R['kind'];
  /** The resource in plan output and logs, e.g. "file /etc/haproxy/haproxy.cfg". */
  describe(r: R): string;
  /** What its probe depends on, and nothing else (content, owner and mode are compared locally). */
  identity(r: R): string;
  /** The letters this kind's probe lines start with. */
  readonly tags: string;
  /** Read-only shell lines printing the state of resource number `i`, part of one batched script. */
  probe(r: R, i: number, withContent: boolean): string;
  /** The state when the probe printed nothing for the resource. */
  unprobed(): P;
  /** Takes one probe line of the resource into its state (`rest`: what follows the index). */
  read(p: P, tag: string, rest: string): void;
  /** What to change, or undefined when the resource is as wanted. */
  plan(r: R, p: P, withDiff: boolean): KindPlan<O> | undefined;
  /** The remote script of one operation. */
  script(r: R, op: O, opts: { backupDir?: string }): string;
  /** How that script runs (by default: a 5-minute timeout, no stdin, no extra values to mask). */
  exec?(r: R, op: O): ExecOptions;
  /** What explains a failed operation: a unit whose journal is shown, a hint. */
  failure?(r: R): { unit?: string; hint?: string };
  /** The service an operation started (it then runs the new state: no restart or reload for it). */
  started?(r: R, op: O): string | undefined;
}

const octal = (m: string | undefined, dflt: string) => parseInt(m ?? dflt, 8);

export interface Attrs {
  owner?: string;
  group?: string;
  mode?: string;
}

/** Owner, group and mode differences as plan words ("mode 644 -> 0640"); owner and group default to root. */
export function attrsDiffer(want: Attrs, have: Attrs, dfltMode: string): string[] {
  const out: string[] = [];
  if ((want.owner ?? 'root') !== have.owner) out.push(`owner ${have.owner} -> ${want.owner ?? 'root'}`);
  if ((want.group ?? 'root') !== have.group) out.push(`group ${have.group} -> ${want.group ?? 'root'}`);
  if (octal(want.mode, dfltMode) !== octal(have.mode, '0'))
    out.push(`mode ${have.mode} -> ${(want.mode ?? dfltMode).replace(/^0?/, '0')}`);
  return out;
}
