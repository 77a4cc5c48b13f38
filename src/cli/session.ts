// What every command that touches hosts needs: the inventory, the run lock, the secrets, the provider,
// and one SSH connection per host, opened in parallel.
import type { Host, Inventory } from '../inventory/types.js';
import { sidecarPath } from '../inventory/types.js';
import { loadInventory, resolveLimit } from '../inventory/load.js';
import { skipRemoved } from '../inventory/removed.js';
import type { ExecOptions, Transport } from '../engine/types.js';
import { KnownHosts } from '../engine/knownhosts.js';
import { acquireLock } from '../engine/lock.js';
import { loadSecrets } from '../engine/secrets.js';
import { RunError, UserError } from '../util/errors.js';
import { packageRoot } from '../engine/template.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { catalog, secretKeysFor } from '../components/index.js';
import { providerFor } from '../providers/index.js';
import type { Provider } from '../providers/types.js';

export interface GlobalOptions {
  inventory: string;
  limit?: string;
  json: boolean;
  /** 0, 1 (-v) or 2 (-vv). */
  verbose: number;
}

/**
 * The inventory a command works on: -i, else $PGHA_INVENTORY, else inventory/lab.yml in the current folder,
 * else (except for destroy and rebuild, which must never pick one by themselves) the lab inventory shipped with pgha.
 */
export function resolveInventory(
  option: string | undefined,
  command: string,
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (option) return option;
  if (env.PGHA_INVENTORY) return env.PGHA_INVENTORY;
  if (existsSync('inventory/lab.yml')) return 'inventory/lab.yml';
  if (command === 'destroy' || command === 'rebuild') {
    throw new UserError(
      `pgha ${command} needs to be told which inventory: there is no inventory/lab.yml here`,
      `give it with -i FILE (or set PGHA_INVENTORY), or run pgha ${command} in the folder that holds inventory/lab.yml`,
    );
  }
  return join(packageRoot(), 'inventory', 'lab.yml');
}

/** The same transport, telling `onExec` about every script before it is sent (for -vv and --log-file). */
export function watchTransport(t: Transport, onExec: (host: string, script: string) => void): Transport {
  return {
    host: t.host,
    get roundTrips() {
      return t.roundTrips;
    },
    exec(script: string, opts?: ExecOptions) {
      onExec(t.host.name, script);
      return t.exec(script, opts);
    },
    close: () => t.close(),
  };
}

export interface Session {
  inv: Inventory;
  provider: Provider;
  /** Hosts selected by --limit (all when none). */
  hosts: Host[];
  secrets: Record<string, string>;
  knownHosts: KnownHosts;
  transports: Map<string, Transport>;
  /** Called with every remote script before it is sent. */
  onExec?: (host: string, script: string) => void;
  close(): Promise<void>;
}

export async function openSession(
  g: GlobalOptions,
  what: string,
  opts: { check: boolean; lock?: boolean; onExec?: (host: string, script: string) => void },
): Promise<Session> {
  const inv = skipRemoved(await loadInventory(g.inventory, catalog));
  const hosts = g.limit ? resolveLimit(inv, g.limit) : inv.hosts;
  // The provider reads the selection from the inventory (a pattern that matches nothing has thrown above).
  if (g.limit) inv.limit = hosts.map((h) => h.name);
  const release = opts.lock === false ? () => undefined : acquireLock(sidecarPath(inv, 'lock'), what);
  try {
    const secrets = loadSecrets(sidecarPath(inv, 'secrets.yml'), secretKeysFor(inv), { check: opts.check });
    const provider = await providerFor(inv);
    const transports = new Map<string, Transport>();
    return {
      inv,
      provider,
      hosts,
      secrets,
      knownHosts: new KnownHosts(sidecarPath(inv, 'known_hosts')),
      transports,
      onExec: opts.onExec,
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
  // The SSH client (and the ssh config reader) load here, on first use: commands that connect nowhere skip them.
  const [{ connectPlanned }, { planConnections }] = await Promise.all([
    import('../engine/jump.js'),
    import('../engine/sshplan.js'),
  ]);
  const plans = planConnections(s.inv, hosts);
  await Promise.all(
    hosts
      .filter((h) => !s.transports.has(h.name))
      .map(async (h) => {
        try {
          const t = await connectPlanned(plans.get(h.name)!, s.knownHosts);
          s.transports.set(h.name, s.onExec ? watchTransport(t, s.onExec) : t);
        } catch (e) {
          failures.push({ host: h.name, error: e as Error });
        }
      }),
  );
  if (failures.length) throw new RunError('connect', failures);
}
