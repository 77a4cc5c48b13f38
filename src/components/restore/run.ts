// The order of a restore, once every check passed and it was confirmed. Each phase is timed; the operations
// themselves (remote.ts, or a fake in the tests) do one thing on one host.
//  1. stop Patroni on every member (PostgreSQL with it),
//  2. move every data directory aside (kept until the restored cluster runs: a failed restore loses nothing),
//  3. delete this cluster's keys from the DCS (a new cluster is initialized),
//  4. the first member starts with the pgbackrest bootstrap method and becomes the leader of the restored data,
//  5. its normal config.yml is written back (later runs of `pgha up` change nothing, nothing bootstraps again),
//  6. the other members start with their normal configuration and clone from it,
//  7. once every member streams, the moved-aside directories are deleted.

export interface RestoreOps {
  stopPatroni(host: string): Promise<void>;
  /** Moves the data directory aside; the path it went to (undefined when there was none). */
  moveAside(host: string): Promise<string | undefined>;
  wipeDcs(): Promise<void>;
  writeConfig(host: string, content: string): Promise<void>;
  startPatroni(host: string): Promise<void>;
  reloadPatroni(host: string): Promise<void>;
  /** Until the host leads a running, promoted cluster (throws on failure or timeout). */
  waitLeader(host: string): Promise<void>;
  /** Until every one of `hosts` streams from the leader (throws on timeout). */
  waitStreaming(hosts: string[]): Promise<void>;
  dropAside(host: string, path: string): Promise<void>;
}

export interface RestoreRun {
  /** The member that is restored from the repository; the others clone from it. */
  first: string;
  others: string[];
  /** Per member: its normal config.yml (as pgha up renders it). */
  normalConfig: Record<string, string>;
  /** The first member's config.yml with the bootstrap method. */
  restoreConfig: string;
}

export interface Phase {
  name: string;
  seconds: number;
}

export interface RestoreResult {
  phases: Phase[];
  /** Where the old data directories went, when they were kept (the restore failed before step 7). */
  kept: Record<string, string>;
}

export class RestoreFailed extends Error {
  constructor(
    readonly phase: string,
    override readonly cause: Error,
    readonly kept: Record<string, string>,
    readonly phases: Phase[],
  ) {
    super(`restore failed while it was to ${phase}: ${cause.message}`);
    this.name = 'RestoreFailed';
  }
}

export async function runRestore(
  ops: RestoreOps,
  run: RestoreRun,
  log: (line: string) => void = () => undefined,
  now: () => number = () => Date.now(),
): Promise<RestoreResult> {
  const all = [run.first, ...run.others];
  const phases: Phase[] = [];
  const kept: Record<string, string> = {};
  const phase = async (name: string, f: () => Promise<void>) => {
    const t0 = now();
    log(`${name} ...`);
    try {
      await f();
    } catch (e) {
      throw new RestoreFailed(name, e as Error, kept, phases);
    }
    const seconds = (now() - t0) / 1000;
    phases.push({ name, seconds });
    log(`${name}: done in ${seconds.toFixed(1)} s`);
  };
  await phase('stop Patroni on every member', async () => {
    await Promise.all(all.map((h) => ops.stopPatroni(h)));
  });
  await phase('move the data directories aside', async () => {
    for (const h of all) {
      const p = await ops.moveAside(h);
      if (p) kept[h] = p;
    }
  });
  await phase("delete the cluster's keys from the DCS", () => ops.wipeDcs());
  await phase(`restore ${run.first} from the repository`, async () => {
    await ops.writeConfig(run.first, run.restoreConfig);
    await ops.startPatroni(run.first);
    await ops.waitLeader(run.first);
  });
  await phase(`write back ${run.first}'s normal configuration`, async () => {
    await ops.writeConfig(run.first, run.normalConfig[run.first]!);
    await ops.reloadPatroni(run.first);
  });
  await phase(`clone ${run.others.join(', ') || 'no other member'} from ${run.first}`, async () => {
    for (const h of run.others) await ops.writeConfig(h, run.normalConfig[h]!);
    await Promise.all(run.others.map((h) => ops.startPatroni(h)));
    if (run.others.length) await ops.waitStreaming(run.others);
  });
  await phase('delete the moved-aside data directories', async () => {
    for (const [h, p] of Object.entries(kept)) {
      await ops.dropAside(h, p);
      delete kept[h];
    }
  });
  return { phases, kept };
}
