// What up, plan, run and verify share: the provider first, then the playbook's steps, then the summary.
import { relative } from 'node:path';
import { components } from '../components/index.js';
import { findPlaybook, loadPlaybook, resolvePlays } from '../playbook/load.js';
import { Runner } from '../engine/runner.js';
import { Schedule, type ScheduleNode } from '../engine/schedule.js';
import { RunError, UserError } from '../util/errors.js';
import type { ProviderChange } from '../providers/types.js';
import { sidecarPath, type Host, type Inventory } from '../inventory/types.js';
import { type GlobalOptions, type Session, connectAll, openSession } from './session.js';
import { errorJson, formatError, type Out } from './output.js';
import type { Step } from '../engine/types.js';
import { attachRecap, computeRecap, formatRecap } from './recap.js';
import { patroniSettings } from '../components/patroni/settings.js';
import { pooledConnectLines } from '../components/pgbouncer/haproxy.js';
import { droppedHosts } from './prune.js';
import { viewReads } from '../components/members/view.js';
import { confirmLoss } from './confirm.js';

export interface ApplyOptions {
  check: boolean;
  diff: boolean;
  /** up --prune: remove cluster members the inventory no longer names. */
  prune?: boolean;
  /** up --yes: confirm repairs that delete data without asking. */
  yes?: boolean;
}

/** In check mode, what the provider would do (when it acts, its own progress lines already said it). */
export function providerLines(out: Out, changes: ProviderChange[], check: boolean): void {
  if (!check) return;
  for (const c of changes) out.info(`would ${c.action} ${c.host}: ${c.summary}`);
}

/** With --limit, the steps that change the whole cluster at once are left out, each with a line saying so. */
export function withoutWholeCluster<T extends { step: Step }>(steps: T[], limited: boolean, say: (l: string) => void) {
  return steps.filter((x) => {
    if (!limited || !x.step.wholeCluster) return true;
    say(`${x.step.id}: not run with --limit (${x.step.wholeCluster}); run without --limit to apply it`);
    return false;
  });
}

export async function runPlaybook(g: GlobalOptions, out: Out, playbook: string, o: ApplyOptions, what: string) {
  const started = Date.now();
  const pbFile = findPlaybook(playbook);
  const pb = loadPlaybook(pbFile, components);
  const s = await openSession(g, what, { check: o.check, onExec: out.exec });
  let runner: Runner | undefined;
  const unreachable: string[] = [];
  const recap = () =>
    computeRecap(
      s.hosts.map((h) => h.name),
      runner?.results ?? [],
      unreachable,
    );
  try {
    for (const w of s.inv.warnings) out.info(`warning: ${w}`);
    const replication = replicationNote(s.inv);
    if (replication && pb.name === 'cluster') out.info(replication);
    const pchanges = await s.provider.up(s.inv, { check: o.check, log: (l) => out.info(l) });
    providerLines(out, pchanges, o.check);
    const missing = new Set(pchanges.filter((c) => c.action === 'create').map((c) => c.host));
    const reachable = o.check ? s.hosts.filter((h) => !missing.has(h.name)) : s.hosts;
    if (o.check && missing.size)
      out.info(
        `${[...missing].join(', ')} do not exist yet: every file, package and service of the playbook would be created there`,
      );
    const down = await connectOrDown(s, reachable, o.check, (l) => out.info(l), unreachable);
    const r = (runner = new Runner({
      inventory: s.inv,
      secrets: s.secrets,
      transports: s.transports,
      check: o.check,
      diff: o.diff,
      events: out.events,
      templateDirs: [pb.dir],
      confirm: (w) => confirmLoss(w, Boolean(o.yes)),
    }));
    const allow = new Set(reachable.filter((h) => !down.some((d) => d.host === h.name)).map((h) => h.name));
    const steps0 = resolvePlays(pb, s.inv, components, s.hosts)
      .map((x) => ({ ...x, hosts: x.hosts.filter((h) => allow.has(h.name)) }))
      .filter((x) => x.hosts.length);
    const steps = withoutWholeCluster(steps0, Boolean(s.inv.limit), (l) => out.info(l));
    // One read per host of what every step (and the look for dropped members) will read; used until something
    // changes in the run (src/engine/prefetch.ts).
    await r.prefetch(steps, pb.name === 'cluster' ? viewReads(s.inv) : []);
    const dropped = pb.name === 'cluster' ? await droppedHosts(s, r, o, out) : [];
    // The steps as a graph (src/engine/schedule.ts): independent work on other hosts overlaps.
    const titles = new Map<ScheduleNode, (t: string) => void>();
    const sched = new Schedule(r, steps, { events: out.events, onChange: (n) => titles.get(n)?.(nodeTitle(n)) });
    const running = sched.run();
    running.catch(() => undefined); // awaited below, once every job has settled
    await out
      .jobs(
        sched.nodes.map((n) => ({
          title: nodeTitle(n),
          run: async (setTitle) => {
            titles.set(n, setTitle);
            setTitle(nodeTitle(n));
            if ((await n.settled) === 'failed') throw new Error(`${n.step.id} failed`);
          },
        })),
        { concurrent: true },
      )
      .catch(() => undefined); // a failed step's job: the schedule's own error follows
    await running.catch((e: unknown) => {
      // Other steps that failed at the same time (the error thrown is the first in playbook order).
      for (const x of sched.errors.slice(1)) {
        out.record({ event: 'error', error: errorJson(x) });
        process.stderr.write(`${formatError(x, out.verbose > 0)}\n`);
      }
      throw e;
    });
    const t = r.totals();
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const roundTrips = Object.fromEntries([...s.transports].map(([n, tr]) => [n, tr.roundTrips]));
    const summary = recap();
    out.info(formatRecap(summary));
    if (pb.name === 'verify') out.info(`verified: the cluster works end to end (${secs} s)`);
    else if (t.changes === 0)
      out.info(`${o.check ? 'plan' : 'done'}: no changes: every host already as wanted (${secs} s)`);
    else
      out.info(
        `${o.check ? 'plan' : 'done'}: ${t.changes} change${t.changes > 1 ? 's' : ''}${o.check ? ' would be made' : ''} (${secs} s)` +
          `${t.restarted.length ? `; restarted ${t.restarted.join(', ')}` : ''}${t.reloaded.length ? `; reloaded ${t.reloaded.join(', ')}` : ''}`,
      );
    if (down.length) out.info(`not planned: ${down.map((d) => d.host).join(', ')} (down)`);
    if (pb.name === 'cluster' && !o.check && s.inv.vip) out.info(connectionInfo(s.inv));
    if (g.verbose)
      out.info(
        `SSH round trips per host: ${Object.entries(roundTrips)
          .map(([h, n]) => `${h}=${n}`)
          .join(' ')}`,
      );
    return {
      ok: true,
      check: o.check,
      playbook: pb.name,
      seconds: Number(secs),
      warnings: s.inv.warnings,
      ...(pb.name === 'cluster' ? { replication: replicationMode(s.inv) } : {}),
      provider: pchanges,
      ...(down.length ? { down } : {}),
      ...(dropped.length ? { dropped } : {}),
      changes: r.results.flatMap((x) =>
        x.changes.map((c) => ({ host: c.host, step: c.step, summary: c.summary, diff: o.diff ? c.diff : undefined })),
      ),
      hosts: r.results.map((x) => ({
        host: x.host,
        step: x.step,
        reason: x.reason,
        restarted: x.restarted,
        reloaded: x.reloaded,
        roundTrips: x.roundTrips,
      })),
      totals: t,
      recap: summary,
      steps: sched.stepSeconds(),
      roundTrips,
    };
  } catch (e) {
    const summary = recap();
    out.info(formatRecap(summary));
    throw attachRecap(e, summary);
  } finally {
    await s.close();
  }
}

/** A step's progress line: waiting, its hosts as they finish (✓) or run (…), then its outcome. */
export function nodeTitle(n: ScheduleNode): string {
  const names = n.hosts.map((h) => h.name);
  if (n.state === 'waiting') return `${n.step.title} [${names.join(', ')}] (waiting)`;
  if (n.state === 'running')
    return `${n.step.title} [${names.map((h) => (n.done.has(h) ? `${h} ✓` : n.running.has(h) ? `${h} …` : h)).join(', ')}]`;
  if (n.state === 'done') {
    const k = n.results.reduce((m, y) => m + y.changes.length, 0);
    return `${n.step.title}: ${k ? `${k} change${k > 1 ? 's' : ''}` : 'no changes'} [${names.join(', ')}]`;
  }
  return `${n.step.title} [${names.join(', ')}]: ${n.state}`;
}

export interface DownHost {
  host: string;
  reason: string;
}

/**
 * Connect to the hosts of a run. In check mode (plan) a host that cannot be reached is down: it is named with the
 * reason, its steps are skipped and the others are planned. Otherwise (up, run), and when no host answers at all or
 * a host's identity is in question (a changed host key), the run stops here as before. `unreachable` collects the
 * hosts that did not connect, for the recap.
 */
export async function connectOrDown(
  s: Session,
  hosts: Host[],
  check: boolean,
  info: (line: string) => void,
  unreachable: string[],
  connect: (s: Session, hosts: Host[]) => Promise<void> = connectAll,
): Promise<DownHost[]> {
  try {
    await connect(s, hosts);
    return [];
  } catch (e) {
    if (!(e instanceof RunError)) throw e;
    unreachable.push(...e.failures.map((f) => f.host));
    const answered = hosts.some((h) => s.transports.has(h.name));
    if (!check || !answered || e.failures.some((f) => f.error instanceof UserError)) throw e;
    const down = hosts
      .filter((h) => e.failures.some((f) => f.host === h.name))
      .map((h) => {
        const msg = e.failures.find((f) => f.host === h.name)!.error.message.split('\n')[0]!;
        return { host: h.name, reason: msg.startsWith(`${h.name}: `) ? msg.slice(h.name.length + 2) : msg };
      });
    for (const d of down) info(`down: ${d.host} (${d.reason}): its steps are skipped`);
    return down;
  }
}

/** How to reach the cluster, printed at the end of `up`. */
export function connectionInfo(inv: Inventory): string {
  const rel = relative(process.cwd(), sidecarPath(inv, 'secrets.yml'));
  return [
    '',
    'Connect:',
    `  read-write   psql -h ${inv.vip} -p 5001 -U postgres`,
    `  read-only    psql -h ${inv.vip} -p 5002 -U postgres`,
    `  any member   psql -h ${inv.vip} -p 5010 -U postgres`,
    ...pooledConnectLines(inv),
    `  password     ${rel.startsWith('..') ? sidecarPath(inv, 'secrets.yml') : rel} (postgres_superuser_password)`,
    `  HAProxy stats http://${inv.vip}:8404/ (user admin, haproxy_stats_password)`,
  ].join('\n');
}

/** The cluster's replication mode, from the first PostgreSQL member's settings (cluster-level settings). */
export function replicationMode(inv: Inventory): 'synchronous' | 'synchronous (strict)' | 'asynchronous' | undefined {
  const member = inv.hosts.find((h) => h.roles.includes('postgres'));
  if (!member) return undefined;
  const s = patroniSettings(inv, member);
  return !s.synchronousMode ? 'asynchronous' : s.synchronousModeStrict ? 'synchronous (strict)' : 'synchronous';
}

/** One line naming an asynchronous cluster as such, with what it risks (nothing to say for synchronous ones). */
export function replicationNote(inv: Inventory): string | undefined {
  if (replicationMode(inv) !== 'asynchronous') return undefined;
  return (
    'replication: asynchronous (patroni_synchronous_mode: false): a failover can lose the last writes the old leader ' +
    'acknowledged; remove the setting for synchronous replication (the default)'
  );
}
