// pgha remove HOST: take one PostgreSQL and/or etcd host out of the running cluster (see
// src/components/members/remove.ts for the order), after the refusals and a confirmation.
import { Runner } from '../../engine/runner.js';
import type { Host, Inventory } from '../../inventory/types.js';
import type { Transport } from '../../engine/types.js';
import type { RunEvents } from '../../engine/runner.js';
import { recordRemoved } from '../../inventory/removed.js';
import { UserError, RunError } from '../../util/errors.js';
import { nearest } from '../../util/nearest.js';
import { withRole } from '../../components/common.js';
import { haproxySteps } from '../../components/haproxy/steps.js';
import { readView } from '../../components/members/view.js';
import {
  checkRemoval,
  performRemoval,
  removalActions,
  targetOf,
  withoutHosts,
} from '../../components/members/remove.js';
import { type GlobalOptions, type Session, connectAll, openSession } from '../session.js';
import type { Out } from '../output.js';
import { confirmLoss, lossOf, type ConfirmIO } from '../confirm.js';
import { destroyMachines } from '../provider-run.js';
import { patroniApi } from '../../components/patroni/api.js';

/** Connect to what answers; the hosts that do not are returned (the target may well be one of them). */
async function connectWhatAnswers(s: Session, hosts: Host[]): Promise<string[]> {
  try {
    await connectAll(s, hosts);
    return [];
  } catch (e) {
    if (!(e instanceof RunError)) throw e;
    if (e.failures.some((f) => f.error instanceof UserError)) throw e; // a changed host key: stop
    return e.failures.map((f) => f.host);
  }
}

export async function remove(
  g: GlobalOptions,
  out: Out,
  name: string | undefined,
  o: { yes?: boolean },
  io?: ConfirmIO,
) {
  if (g.limit)
    throw new UserError(
      'pgha remove takes one HOST and no --limit; nothing was changed',
      'name the host: pgha remove HOST',
    );
  if (!name) throw new UserError('pgha remove needs HOST', 'see pgha remove --help');
  const s = await openSession(g, `remove ${name}`, { check: false, onExec: out.exec });
  try {
    for (const w of s.inv.warnings) out.info(`warning: ${w}`);
    const host = s.inv.hosts.find((h) => h.name === name);
    if (!host) {
      const near = nearest(
        name,
        s.inv.hosts.map((h) => h.name),
      );
      throw new UserError(
        `pgha remove: no host named '${name}' in ${s.inv.file}${near ? `: did you mean '${near}'?` : ''}; nothing was changed`,
        `hosts: ${s.inv.hosts.map((h) => h.name).join(', ')}. A member already deleted from the inventory is listed by pgha plan and removed by pgha up --prune`,
        { file: s.inv.file, field: 'hosts' },
      );
    }
    if (!host.roles.includes('postgres') && !host.roles.includes('etcd'))
      throw new UserError(
        `pgha remove: ${name} is neither a PostgreSQL nor an etcd host (roles: ${host.roles.join(', ') || 'none'}); nothing was changed`,
        'pgha remove takes cluster members; delete a balancer from the inventory and run pgha up, then pgha destroy --limit it',
      );
    const down = await connectWhatAnswers(s, s.inv.hosts);
    for (const d of down) out.info(`down: ${d} does not answer`);
    const result = await removeMember({
      inv: s.inv,
      host,
      secrets: s.secrets,
      transports: s.transports,
      events: out.events,
      yes: Boolean(o.yes),
      io,
      log: (l) => out.info(l),
      deleteMachine:
        s.inv.provider.type === 'static'
          ? undefined
          : async () => {
              const changes = await destroyMachines(s, [{ name, address: host.address, port: host.ssh.port }], {
                check: false,
                log: (l) => out.info(l),
              });
              if (!changes.length) out.info(`${name}: no machine to delete`);
            },
    });
    recordRemoved(s.inv, name);
    out.info(`removed ${name} from the cluster (${result.seconds} s)`);
    out.info(
      `${name} is still in ${s.inv.file}: delete it there. Until then every pgha command skips it (recorded in .pgha/)`,
    );
    return { ok: true, removed: name, ...result };
  } finally {
    await s.close();
  }
}

export interface RemoveMemberOptions {
  inv: Inventory;
  host: Host;
  secrets: Record<string, string>;
  transports: Map<string, Transport>;
  events: RunEvents;
  yes: boolean;
  io?: ConfirmIO;
  log(line: string): void;
  /** Deletes the machine (providers that make them); absent: the host stays up, outside the cluster. */
  deleteMachine?(): Promise<void>;
  /** Re-renders the balancers without the host (default: the HAProxy config step, one balancer at a time). */
  reloadBalancers?(balancers: Host[]): Promise<void>;
  /** How long a synchronous standby may take to hand its role over (default 60 s). */
  syncTimeoutMs?: number;
  /** Patroni's config file on the host (tests point it elsewhere). */
  patroniConfig?: string;
}

/** Read, refuse or confirm, then remove: the part of pgha remove after the inventory and the connections. */
export async function removeMember(o: RemoveMemberOptions) {
  const { inv, host } = o;
  const name = host.name;
  const stay = withoutHosts(inv, [name]);
  const runner = new Runner({
    inventory: stay,
    secrets: o.secrets,
    transports: o.transports,
    check: false,
    diff: false,
    events: o.events,
  });
  const view = await readView(runner.groupContext(stay.hosts));
  const target = targetOf(inv, host, view);
  const notes = checkRemoval(view, target);
  const balancers = withRole(stay.hosts, 'haproxy').filter((h) => o.transports.has(h.name));
  const actions = removalActions(view, target, {
    balancers: balancers.map((h) => h.name),
    reachable: o.transports.has(name),
    deletesMachine: Boolean(o.deleteMachine),
  });
  const lost = [
    ...lossOf(inv, 'destroy', [{ host: name, action: 'delete', summary: '' }]),
    ...(o.deleteMachine ? [] : [`${name} stays up with its data, outside the cluster (its machine is not deleted)`]),
    ...notes,
  ];
  await confirmLoss(
    {
      command: `pgha remove ${name}`,
      changes: actions.map((a) => ({ host: a.where, action: 'delete', summary: a.summary })),
      lost,
    },
    o.yes,
    o.io,
  );
  const started = Date.now();
  await performRemoval(actions, view, target, {
    inventory: inv,
    transports: o.transports,
    target: o.transports.get(name),
    api: patroniApi(inv, host),
    syncTimeoutMs: o.syncTimeoutMs,
    patroniConfig: o.patroniConfig,
    log: o.log,
    reloadBalancers: async () => {
      if (o.reloadBalancers) return o.reloadBalancers(balancers);
      // The new config, one balancer at a time, then the check that each shows the members UP.
      for (const step of haproxySteps.filter((x) => x.id === 'haproxy.config' || x.id === 'haproxy.backends'))
        await runner.runStep(step, balancers);
    },
    deleteMachine: o.deleteMachine,
  });
  return { actions, notes, seconds: Number(((Date.now() - started) / 1000).toFixed(1)) };
}
