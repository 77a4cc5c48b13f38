// The control machine itself: Linux, root, and the packages the lab runs on.
import { ProviderError, UserError } from '../../util/errors.js';
import { tryRun, run } from './sys.js';

export const CONTROL_PACKAGES = ['systemd-container', 'debootstrap', 'apt-cacher-ng', 'iproute2', 'openssh-client'];

export function assertLabPlatform(): void {
  if (process.platform !== 'linux')
    throw new UserError(
      `the lab provider needs Linux (this is ${process.platform})`,
      'run pgha on a Linux machine, or use provider static/proxmox',
    );
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    throw new UserError(
      'the lab provider needs root (it creates network namespaces, bridges, mounts and machines)',
      'run pgha as root, e.g. with sudo',
    );
}

/** Packages from the list that dpkg does not report as installed. */
export async function missingPackages(names: string[] = CONTROL_PACKAGES): Promise<string[]> {
  const missing: string[] = [];
  for (const n of names) {
    const r = await tryRun`dpkg-query -W -f=${'${Status}'} ${n}`;
    if (r.code !== 0 || !/install ok installed/.test(r.stdout)) missing.push(n);
  }
  return missing;
}

let updated = false;

/** Installs what is missing (apt-get update once per process). Returns what it installed. */
export async function ensureControlPackages(log: (l: string) => void, check: boolean): Promise<string[]> {
  const missing = await missingPackages();
  if (!missing.length || check) return missing;
  log(`installing on the control machine: ${missing.join(' ')}`);
  try {
    if (!updated) {
      await run`env DEBIAN_FRONTEND=noninteractive apt-get update`;
      updated = true;
    }
    await run`env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing}`;
    // The package starts its own daemon on *:3142 where there is an init script runner; the lab runs its own instances.
    if (missing.includes('apt-cacher-ng')) await tryRun`/etc/init.d/apt-cacher-ng stop`;
  } catch (e) {
    throw new ProviderError(
      `could not install ${missing.join(', ')} on the control machine`,
      'install them with apt-get and retry',
      (e as ProviderError).detail,
    );
  }
  return missing;
}
