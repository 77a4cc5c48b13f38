// What destroy, rebuild and lab up/down share: one provider action on the inventory's hosts (those of --limit).
import { hostPattern } from '../engine/knownhosts.js';
import { UserError } from '../util/errors.js';
import { type GlobalOptions, type Session, openSession } from './session.js';
import type { Out } from './output.js';
import { providerLines } from './playbook-run.js';
import { confirmLoss, lossOf } from './confirm.js';
import { limitedHosts } from '../inventory/limit.js';

export async function providerAction(
  g: GlobalOptions,
  out: Out,
  action: 'up' | 'down' | 'destroy',
  check: boolean,
  only?: 'lab',
  extra: { cleanupUnfinished?: boolean; yes?: boolean; command?: string; refuseStatic?: string } = {},
) {
  const s = await openSession(g, `provider ${action}`, { check });
  try {
    if (only && s.inv.provider.type !== only) {
      throw new UserError(
        `${s.inv.file} uses provider ${s.inv.provider.type}, not ${only}`,
        `pgha lab works on lab inventories; use pgha up / destroy for this one`,
      );
    }
    if (extra.refuseStatic && s.inv.provider.type === 'static') {
      throw new UserError(
        `${extra.command ?? `pgha ${action}`}: ${s.inv.file} uses provider static, whose hosts pgha did not create and cannot re-create`,
        extra.refuseStatic,
        { file: s.inv.file, field: 'provider' },
      );
    }
    const { yes, command: name, refuseStatic: _, ...pextra } = extra;
    if (!check && action !== 'up') {
      // What would go, read without changing anything, then asked for (or --yes).
      const planned = await s.provider[action](s.inv, { check: true, log: () => undefined, ...pextra });
      const gone = planned.filter((c) => c.action === 'delete' || c.action === 'change');
      const command = name ?? `pgha ${action === 'down' ? 'lab down' : action}`;
      await confirmLoss({ command, changes: gone, lost: lossOf(s.inv, action, gone) }, Boolean(yes));
    }
    const changes = await s.provider[action](s.inv, { check, log: (l) => out.info(l), ...pextra });
    // Destroyed hosts come back with new host keys: forget the old ones.
    if (action === 'destroy' && !check)
      s.knownHosts.forget(limitedHosts(s.inv).map((h) => hostPattern(h.address, h.ssh.port)));
    providerLines(out, changes, check);
    if (changes.length === 0) out.info(`${action}: nothing to do`);
    return { ok: true, action, changes };
  } finally {
    await s.close();
  }
}

/**
 * Delete the machines of these hosts within an open session (pgha remove, up --prune), as destroy --limit does:
 * `hosts` may name hosts the inventory no longer has (the lab keeps their machines on disk). `check` only asks.
 */
export async function destroyMachines(
  s: Session,
  hosts: { name: string; address?: string; port?: number }[],
  o: { check: boolean; log: (line: string) => void },
) {
  if (s.inv.provider.type === 'static') return [];
  for (const h of o.check ? [] : hosts) {
    await s.transports.get(h.name)?.close();
    s.transports.delete(h.name);
  }
  const changes = await s.provider.destroy({ ...s.inv, limit: hosts.map((h) => h.name) }, o);
  if (!o.check) s.knownHosts.forget(hosts.filter((h) => h.address).map((h) => hostPattern(h.address!, h.port ?? 22)));
  return changes;
}
