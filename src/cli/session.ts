// What every command that touches hosts needs: the inventory, the run lock, the secrets, the provider,
// and one SSH connection per host, opened in parallel.
import type { Host, Inventory } from '../inventory/types.js';
import { sidecarPath } from '../inventory/types.js';
import { loadInventory, resolveLimit } from '../inventory/load.js';
import type { Transport } from '../engine/types.js';
import { connectPlanned } from '../engine/jump.js';
import { planConnections } from '../engine/sshplan.js';
import { KnownHosts } from '../engine/knownhosts.js';
import { acquireLock } from '../engine/lock.js';
import { loadSecrets } from '../engine/secrets.js';
import { RunError } from '../engine/errors.js';
import { catalog, SECRET_KEYS } from '../components/index.js';
import { providerFor } from '../providers/index.js';
import type { Provider } from '../providers/types.js';

export interface GlobalOptions {
  inventory: string;
  limit?: string;
  json: boolean;
  verbose: boolean;
}

export interface Session {
  inv: Inventory;
  provider: Provider;
  /** Hosts selected by --limit (all when none). */
  hosts: Host[];
  secrets: Record<string, string>;
  knownHosts: KnownHosts;
  transports: Map<string, Transport>;
  close(): Promise<void>;
}

export async function openSession(g: GlobalOptions, what: string, opts: { check: boolean; lock?: boolean }): Promise<Session> {
  const inv = await loadInventory(g.inventory, catalog);
  const hosts = g.limit ? resolveLimit(inv, g.limit) : inv.hosts;
  const release = opts.lock === false ? () => undefined : acquireLock(sidecarPath(inv, 'lock'), what);
  try {
    const secrets = loadSecrets(sidecarPath(inv, 'secrets.yml'), [...SECRET_KEYS], { check: opts.check });
    const provider = await providerFor(inv);
    const transports = new Map<string, Transport>();
    return {
      inv,
      provider,
      hosts,
      secrets,
      knownHosts: new KnownHosts(sidecarPath(inv, 'known_hosts')),
      transports,
      async close() {
        await Promise.all([...transports.values()].map((t) => t.close()));
        transports.clear();
        release();
      },
    };
  } catch (e) {
    release();
    throw e;
  }
}

/** Connect to every given host in parallel; all failures are reported together. */
export async function connectAll(s: Session, hosts: Host[]): Promise<void> {
  const failures: { host: string; error: Error }[] = [];
  const plans = planConnections(s.inv, hosts);
  await Promise.all(
    hosts.filter((h) => !s.transports.has(h.name)).map(async (h) => {
      try {
        s.transports.set(h.name, await connectPlanned(plans.get(h.name)!, s.knownHosts));
      } catch (e) {
        failures.push({ host: h.name, error: e as Error });
      }
    }),
  );
  if (failures.length) throw new RunError('connect', failures);
}
