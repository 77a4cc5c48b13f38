// The commands. Each returns the JSON-able result; main.ts prints and maps errors to exit codes.
import { components } from '../components/index.js';
import { findPlaybook, loadPlaybook, resolvePlays } from '../playbook/load.js';
import { Runner } from '../engine/runner.js';
import type { ProviderChange } from '../providers/types.js';
import { collectStatus, formatStatus } from '../components/status/index.js';
import { type GlobalOptions, connectAll, openSession } from './session.js';
import type { Out } from './output.js';
import { hostPattern } from '../engine/knownhosts.js';
import { UserError } from '../engine/errors.js';
import { relative } from 'node:path';
import { sidecarPath, type Inventory } from '../inventory/types.js';

export interface ApplyOptions {
  check: boolean;
  diff: boolean;
}

/** In check mode, what the provider would do (when it acts, its own progress lines already said it). */
function providerLines(out: Out, changes: ProviderChange[], check: boolean): void {
  if (!check) return;
  for (const c of changes) out.info(`${check ? 'would ' : ''}${c.action} ${c.host}: ${c.summary}`);
}

/** up / plan / run: provider first, then the playbook's steps. */
export async function runPlaybookCommand(g: GlobalOptions, out: Out, playbook: string, o: ApplyOptions, what: string) {
  const started = Date.now();
  const pbFile = findPlaybook(playbook);
  const pb = loadPlaybook(pbFile, components);
  const s = await openSession(g, what, { check: o.check });
  try {
    for (const w of s.inv.warnings) out.info(`warning: ${w}`);
    const pchanges = await s.provider.up(s.inv, { check: o.check, log: (l) => out.info(l) });
    providerLines(out, pchanges, o.check);
    const missing = new Set(pchanges.filter((c) => c.action === 'create').map((c) => c.host));
    const reachable = o.check ? s.hosts.filter((h) => !missing.has(h.name)) : s.hosts;
    if (o.check && missing.size) out.info(`${[...missing].join(', ')} do not exist yet: every file, package and service of the playbook would be created there`);
    await connectAll(s, reachable);
    const runner = new Runner({ inventory: s.inv, secrets: s.secrets, transports: s.transports, check: o.check, diff: o.diff, events: out.events, templateDirs: [pb.dir] });
    const allow = new Set(reachable.map((h) => h.name));
    const steps = resolvePlays(pb, s.inv, components, s.hosts).map((r) => ({ ...r, hosts: r.hosts.filter((h) => allow.has(h.name)) })).filter((r) => r.hosts.length);
    await out.jobs(
      steps.map((r) => ({
        title: `${r.step.title} [${r.hosts.map((h) => h.name).join(', ')}]`,
        run: async (setTitle) => {
          const res = await runner.runStep(r.step, r.hosts);
          const n = res.reduce((k, x) => k + x.changes.length, 0);
          setTitle(`${r.step.title}: ${n ? `${n} change${n > 1 ? 's' : ''}` : 'no changes'} [${r.hosts.map((h) => h.name).join(', ')}]`);
        },
      })),
    );
    const t = runner.totals();
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    const roundTrips = Object.fromEntries([...s.transports].map(([n, tr]) => [n, tr.roundTrips]));
    if (pb.name === 'verify') out.info(`verified: the cluster works end to end (${secs} s)`);
    else if (t.changes === 0) out.info(`${o.check ? 'plan' : 'done'}: no changes: every host already as wanted (${secs} s)`);
    else out.info(`${o.check ? 'plan' : 'done'}: ${t.changes} change${t.changes > 1 ? 's' : ''}${o.check ? ' would be made' : ''} (${secs} s)` +
      `${t.restarted.length ? `; restarted ${t.restarted.join(', ')}` : ''}${t.reloaded.length ? `; reloaded ${t.reloaded.join(', ')}` : ''}`);
    if (pb.name === 'cluster' && !o.check && s.inv.vip) out.info(connectionInfo(s.inv));
    if (g.verbose) out.info(`SSH round trips per host: ${Object.entries(roundTrips).map(([h, n]) => `${h}=${n}`).join(' ')}`);
    return {
      ok: true,
      check: o.check,
      playbook: pb.name,
      seconds: Number(secs),
      warnings: s.inv.warnings,
      provider: pchanges,
      changes: runner.results.flatMap((r) => r.changes.map((c) => ({ host: c.host, step: c.step, summary: c.summary, diff: o.diff ? c.diff : undefined }))),
      hosts: runner.results.map((r) => ({ host: r.host, step: r.step, reason: r.reason, restarted: r.restarted, reloaded: r.reloaded, roundTrips: r.roundTrips })),
      totals: t,
      steps: runner.stepSeconds,
      roundTrips,
    };
  } finally {
    await s.close();
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
    `  password     ${rel.startsWith('..') ? sidecarPath(inv, 'secrets.yml') : rel} (postgres_superuser_password)`,
    `  HAProxy stats http://${inv.vip}:8404/`,
  ].join('\n');
}

export async function statusCommand(g: GlobalOptions, out: Out) {
  const s = await openSession(g, 'status', { check: true, lock: false });
  try {
    const hosts = await s.provider.status(s.inv);
    const running = s.hosts.filter((h) => hosts.find((x) => x.host === h.name)?.state !== 'absent' && hosts.find((x) => x.host === h.name)?.state !== 'stopped');
    try {
      await connectAll(s, running);
    } catch (e) {
      out.info(`(some hosts did not answer: ${(e as Error).message})`);
    }
    const runner = new Runner({ inventory: s.inv, secrets: s.secrets, transports: s.transports, check: true, diff: false, events: {} });
    const status = await collectStatus(runner.groupContext(running.filter((h) => s.transports.has(h.name))));
    out.info(hosts.map((h) => `${h.host.padEnd(12)} ${h.state}${h.detail ? `  ${h.detail}` : ''}`).join('\n'));
    out.info('');
    out.info(formatStatus(status));
    return { ok: true, hosts, status };
  } finally {
    await s.close();
  }
}

export async function providerCommand(g: GlobalOptions, out: Out, action: 'up' | 'down' | 'destroy', check: boolean, only?: 'lab',
  extra: { cleanupUnfinished?: boolean } = {}) {
  const s = await openSession(g, `provider ${action}`, { check });
  try {
    if (only && s.inv.provider.type !== only) {
      throw new UserError(`${s.inv.file} uses provider ${s.inv.provider.type}, not ${only}`, `pgha lab works on lab inventories; use pgha up / destroy for this one`);
    }
    const changes = await s.provider[action](s.inv, { check, log: (l) => out.info(l), ...extra });
    // Destroyed hosts come back with new host keys: forget the old ones.
    if (action === 'destroy' && !check) s.knownHosts.forget(s.inv.hosts.map((h) => hostPattern(h.address, h.ssh.port)));
    providerLines(out, changes, check);
    if (changes.length === 0) out.info(`${action}: nothing to do`);
    return { ok: true, action, changes };
  } finally {
    await s.close();
  }
}
