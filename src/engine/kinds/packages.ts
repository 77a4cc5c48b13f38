// packages: only the missing ones (dpkg-query) are installed, in one non-interactive apt-get command that waits
// for the dpkg lock and first finishes what an interrupted dpkg left behind.
import { shq } from '../quote.js';
import type { Kind } from './kind.js';

export interface PackagesResource {
  kind: 'packages';
  names: string[];
}

export interface PackagesProbe {
  kind: 'packages';
  installed: Set<string>;
}
export type PackagesOp = { op: 'install'; names: string[] };

const APT =
  'DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';

/** dpkg's journal of an interrupted run. */
export const DPKG_UPDATES = '/var/lib/dpkg/updates';

/**
 * A run killed while dpkg worked leaves packages unpacked or half-configured, and apt then refuses every
 * install ("dpkg was interrupted"). Finish that first, waiting while a dpkg of the killed run still holds the lock.
 */
export function dpkgRecover(updatesDir = DPKG_UPDATES): string {
  return [
    `if [ -n "$(ls -A ${shq(updatesDir)} 2>/dev/null)" ] || [ -n "$(dpkg --audit 2>/dev/null)" ]; then`,
    '  n=0',
    '  until out=$(DEBIAN_FRONTEND=noninteractive dpkg --force-confdef --force-confold --configure -a 2>&1); do',
    '    case "$out" in *lock*) n=$((n+1)); if [ $n -ge 600 ]; then echo "$out" >&2; exit 1; fi; sleep 1;; *) echo "$out" >&2; exit 1;; esac',
    '  done',
    `  if [ -n "$(dpkg --audit 2>/dev/null)" ]; then ${APT} install -f -y -q; fi`,
    'fi',
  ].join('\n');
}

export const DPKG_RECOVER = dpkgRecover();

export function packagesScript(names: string[], updatesDir = DPKG_UPDATES): string {
  const pkgs = names.map(shq).join(' ');
  // Refresh the package lists when they are missing or older than a day, and once more if a package is not found.
  return [
    'set -e',
    dpkgRecover(updatesDir),
    `if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then ${APT} update -q; fi`,
    `${APT} install -y -q --no-install-recommends ${pkgs} || { ${APT} update -q && ${APT} install -y -q --no-install-recommends ${pkgs}; }`,
  ].join('\n');
}

export const packagesKind: Kind<PackagesResource, PackagesProbe, PackagesOp> = {
  kind: 'packages',
  describe: (r) => `packages ${r.names.join(' ')}`,
  identity: (r) => `pkg ${[...r.names].sort().join(' ')}`,
  tags: 'P',
  probe: (r, i) =>
    `dpkg-query -W -f='\${Package} \${db:Status-Status}\\n' ${r.names.map(shq).join(' ')} 2>/dev/null | sed 's/^/P ${i} /'`,
  unprobed: () => ({ kind: 'packages', installed: new Set() }),
  read(p, tag, rest) {
    const f = rest.split(' ');
    if (tag === 'P' && f[1] === 'installed') p.installed.add(f[0]!.replace(/:.*$/, ''));
  },
  plan(r, p) {
    // A version (name=1.2) or an architecture (name:amd64) is not part of the name dpkg-query reports.
    const missing = r.names.filter((n) => !p.installed.has(n.replace(/[=:].*$/, '')));
    return missing.length
      ? { summary: `install ${missing.join(' ')}`, ops: [{ op: 'install', names: missing }] }
      : undefined;
  },
  script: (_r, op) => packagesScript(op.names),
  exec: () => ({ timeoutMs: 1_200_000 }),
};
