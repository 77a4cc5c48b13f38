// Apply planned changes on one host, in order, then run the restarts/reloads they call for.
import type { Notify, Resource, Transport } from './types.js';
import type { PlannedChange } from './plan.js';
import { RemoteError } from '../util/errors.js';
import { mask } from './mask.js';
import { shq } from './quote.js';
import { PENDING_DIR, recordScript, type Pending } from './pending.js';
import { kindOf } from './kinds/index.js';

export { BACKUP_DIR } from './kinds/file.js';
export { DPKG_RECOVER, DPKG_UPDATES, dpkgRecover, packagesScript } from './kinds/packages.js';

export interface AppliedHost {
  applied: PlannedChange[];
  restarted: string[];
  reloaded: string[];
  /** Services whose notifications were handled here (their records are cleared once the step verified). */
  notified: string[];
}

export interface ApplyOptions {
  /** Notifications recorded on the host by an earlier run that did not see them through. */
  pending?: Pending;
  /** Directory of the notification records on the host (default PENDING_DIR). */
  pendingDir?: string;
  /** Where the previous version of a replaced file is kept on the host (default BACKUP_DIR). */
  backupDir?: string;
}

/** A unit journal tail, for error reports. */
export async function serviceLog(t: Transport, unit: string, lines = 30): Promise<string> {
  try {
    const r = await t.exec(`journalctl -u ${shq(unit)} -n ${lines} --no-pager -o short-iso 2>&1 | tail -n ${lines}`, {
      timeoutMs: 20_000,
    });
    return mask(r.stdout.trimEnd());
  } catch {
    return '';
  }
}

export async function applyChanges(
  t: Transport,
  changes: PlannedChange[],
  allResources: Resource[],
  log: (l: string) => void,
  opts: ApplyOptions = {},
): Promise<AppliedHost> {
  const applied: PlannedChange[] = [];
  const notified = new Map<string, Notify['action']>(opts.pending ?? []);
  const startedNow = new Set<string>();
  for (const c of changes) {
    const r = c.resource;
    const kind = kindOf(r);
    for (const [i, op] of c.ops.entries()) {
      const how = kind.exec?.(r, op) ?? {};
      // The wish to restart/reload is recorded before the change it follows from, in the same round trip.
      const record =
        i === 0 && 'notify' in r && r.notify?.length
          ? `${recordScript(r.notify, opts.pendingDir ?? PENDING_DIR)}\n`
          : '';
      const res = await t.exec(record + kind.script(r, op, { backupDir: opts.backupDir }), {
        timeoutMs: how.timeoutMs ?? 300_000,
        secrets: how.secrets,
        stdin: how.stdin,
      });
      if (res.code !== 0) {
        const { unit, hint } = kind.failure?.(r) ?? {};
        const logs = unit ? await serviceLog(t, unit) : '';
        const out = mask(`${res.stderr}\n${res.stdout}`.trim()).split('\n').slice(-25).join('\n');
        throw new RemoteError(
          t.host.name,
          `${c.summary} failed (exit ${res.code})`,
          [out, logs && `--- journalctl -u ${unit}\n${logs}`].filter(Boolean).join('\n'),
          hint,
        );
      }
      const started = kind.started?.(r, op);
      if (started) startedNow.add(started);
    }
    applied.push(c);
    log(`${t.host.name}: ${mask(c.summary)}`);
    const notify = 'notify' in r ? r.notify : undefined;
    for (const n of notify ?? []) {
      if (notified.get(n.service) !== 'restart') notified.set(n.service, n.action);
    }
  }
  const restarted: string[] = [];
  const reloaded: string[] = [];
  for (const [svc, action] of notified) {
    if (startedNow.has(svc)) continue;
    const wanted = allResources.find((r) => r.kind === 'service' && r.name === svc);
    if (wanted && wanted.kind === 'service' && wanted.state === 'stopped') continue;
    const n = shq(svc);
    // Only a running service is restarted or reloaded; a stopped one is started by its own service resource.
    const script =
      action === 'reload'
        ? `if systemctl is-active -q ${n}; then systemctl reload ${n} && echo done; fi`
        : `if systemctl is-active -q ${n}; then systemctl restart ${n} && echo done; fi`;
    const res = await t.exec(script, { timeoutMs: 300_000 });
    if (res.code !== 0) {
      throw new RemoteError(t.host.name, `${action} of ${svc} failed (exit ${res.code})`, await serviceLog(t, svc));
    }
    if (res.stdout.includes('done')) {
      (action === 'reload' ? reloaded : restarted).push(svc);
      log(`${t.host.name}: ${action}ed ${svc}`);
    }
  }
  return { applied, restarted, reloaded, notified: [...notified.keys()] };
}
