// Every package a host needs in a run, installed in one apt transaction. The list is collected from the steps that
// will run on the host: each step's own `packages` resource, together with the files and directories it writes
// before it (guards such as a policy-rc.d, a createcluster drop-in, configs dpkg must find in place). Those steps
// keep their resources: once this step has run, their packages are installed and their files as wanted, so they
// change nothing more there and still check everything.
import type { Host } from '../inventory/types.js';
import type {
  DirectoryResource,
  FactSpec,
  FileResource,
  PackagesResource,
  Resource,
  Step,
  StepContext,
} from './types.js';

/** One later step's install on a host: what must be in place first, then its packages. */
export interface InstallGroup {
  step: string;
  before: (FileResource | DirectoryResource)[];
  names: string[];
}

/** A later step of the run and the hosts it runs on. */
export interface LaterStep {
  step: Step;
  hosts: Host[];
}

/** The package name dpkg-query reports for a requested one (no version, no architecture). */
const bare = (name: string) => name.replace(/[=:].*$/, '');

/**
 * A step's install, from the resources it plans before its facts are read: everything up to its first `packages`
 * resource. Undefined when it installs nothing, cannot plan without its facts, or needs something else than files
 * and directories before the install (a command, a service): such a step keeps installing on its own.
 */
export async function installGroup(step: Step, ctx: StepContext): Promise<InstallGroup | undefined> {
  let resources: Resource[];
  try {
    resources = await step.resources(ctx, {});
  } catch {
    return undefined;
  }
  const at = resources.findIndex((r) => r.kind === 'packages');
  if (at < 0) return undefined;
  const before = resources.slice(0, at);
  if (!before.every((r) => r.kind === 'file' || r.kind === 'directory')) return undefined;
  return {
    step: step.id,
    before: before as (FileResource | DirectoryResource)[],
    names: (resources[at] as PackagesResource).names,
  };
}

/** The installs of the later steps that run on this host, in run order. */
export async function collectInstalls(later: readonly LaterStep[], ctx: StepContext): Promise<InstallGroup[]> {
  const out: InstallGroup[] = [];
  for (const l of later) {
    if (!l.hosts.some((h) => h.name === ctx.host.name)) continue;
    const g = await installGroup(l.step, ctx);
    if (g) out.push(g);
  }
  return out;
}

/**
 * The resources of the one transaction. A group whose packages are all installed adds nothing (its files are its
 * own step's business, at its own time). For the others: their files and directories first (without
 * notifications: nothing they would restart is installed yet, and the install starts what it brings with them in
 * place), then one `packages` resource with every name. `installed` unknown (the guess before the facts): all.
 */
export function atOnceResources(groups: readonly InstallGroup[], installed?: ReadonlySet<string>): Resource[] {
  const missing = groups.filter((g) => !installed || g.names.some((n) => !installed.has(bare(n))));
  const before: Resource[] = [];
  const seen = new Set<string>();
  for (const g of missing)
    for (const r of g.before) {
      if (seen.has(r.path)) continue;
      seen.add(r.path);
      if (r.kind === 'file') {
        const { notify: _notify, ...rest } = r;
        before.push(rest);
      } else before.push(r);
    }
  const names = [...new Set(missing.flatMap((g) => g.names))];
  return names.length ? [...before, { kind: 'packages', names }] : [];
}

/** Every package dpkg reports installed on the host (one short line each). */
export const installedPackagesFact: FactSpec<Set<string>> = {
  script: "dpkg-query -W -f='${Package} ${db:Status-Status}\\n' 2>/dev/null || true",
  parse: (out) =>
    new Set(
      out
        .split('\n')
        .map((l) => l.trim().split(' '))
        .filter((f) => f[1] === 'installed')
        .map((f) => f[0]!.replace(/:.*$/, '')),
    ),
};
