// The registry of resource kinds. A resource's `kind` names its module here; the engine reaches a kind's
// identity, probe, planner and apply script only through kindOf().
import type { Kind } from './kind.js';
import { fileKind } from './file.js';
import { directoryKind } from './directory.js';
import { packagesKind } from './packages.js';
import { serviceKind } from './service.js';
import { commandKind } from './command.js';

/** Accepts a registry only when every module is filed under its own kind name. */
function register<T extends { [K in keyof T]: { readonly kind: K } }>(kinds: T): T {
  return kinds;
}

export const KINDS = register({
  file: fileKind,
  directory: directoryKind,
  packages: packagesKind,
  service: serviceKind,
  command: commandKind,
});

type Registry = typeof KINDS;
export type KindName = keyof Registry;
type Parts<M> = M extends Kind<infer R, infer P, infer O> ? { resource: R; probed: P; op: O } : never;
/** The resource a step writes for kind K. */
export type ResourceOf<K extends KindName> = Parts<Registry[K]>['resource'];
/** What the probe of a kind-K resource reads. */
export type ProbedOf<K extends KindName> = Parts<Registry[K]>['probed'];
/** What apply can do to a kind-K resource. */
export type OpOf<K extends KindName> = Parts<Registry[K]>['op'];

const modules: { [K in KindName]: Kind<ResourceOf<K>, ProbedOf<K>, OpOf<K>> } = KINDS;

/** The module of a resource's kind. */
export function kindOf<K extends KindName>(r: { kind: K }): Kind<ResourceOf<K>, ProbedOf<K>, OpOf<K>> {
  return modules[r.kind];
}

/** Every probe line tag, for reading a batched probe's output. */
export const PROBE_TAGS = Object.values(KINDS)
  .map((k) => k.tags)
  .join('');
