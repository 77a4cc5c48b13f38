// Members the inventory no longer names (found in Patroni's GET /cluster and etcd's member list): plan and up list
// them; up --prune removes them, one at a time, in the order of src/components/members/remove.ts. Their machines
// are deleted when the provider still has one by that name (the lab keeps its machines on disk).
import type { Host } from '../inventory/types.js';
import type { Runner } from '../engine/runner.js';
import { RunError } from '../util/errors.js';
import { withRole } from '../components/common.js';
import { haproxySteps } from '../components/haproxy/steps.js';
import { etcdSettings } from '../components/etcd/settings.js';
import { patroniSettings } from '../components/patroni/settings.js';
import { droppedLines, droppedMembers, readView, type DroppedMember } from '../components/members/view.js';
import {
  checkRemoval,
  memberKey,
  performRemoval,
  removalActions,
  type RemovalTarget,
} from '../components/members/remove.js';
import { connectAll, type Session } from './session.js';
import { destroyMachines } from './provider-run.js';
import type { Out } from './output.js';
import { patroniApi } from '../components/patroni/api.js';

/** A host entry for a dropped member (the inventory's SSH settings, its address), to stop its services. */
function hostFor(s: Session, d: DroppedMember): Host | undefined {
  const like = s.inv.hosts[0];
  if (!like || !d.address) return undefined;
  return { ...like, name: d.name, address: d.address, roles: [], groups: [], vars: {} };
}

export async function droppedHosts(
  s: Session,
  runner: Runner,
  o: { check: boolean; prune?: boolean },
  out: Out,
): Promise<DroppedMember[]> {
  const ctx = runner.groupContext(s.inv.hosts);
  // From the read at the start of the run (engine/prefetch.ts) while nothing changed: see viewReads.
  let view = await runner.readOnly(ctx, (c) => readView(c)).catch(() => undefined);
  if (!view) return [];
  const dropped = droppedMembers(s.inv, view);
  for (const l of droppedLines(dropped, Boolean(o.prune), o.check)) out.info(l);
  if (!o.prune || o.check) return dropped;
  const etcdHost = withRole(s.inv.hosts, 'etcd')[0] ?? s.inv.hosts[0]!;
  const pgHost = withRole(s.inv.hosts, 'postgres')[0] ?? s.inv.hosts[0]!;
  for (const d of dropped) {
    const ps = patroniSettings(s.inv, pgHost);
    const target: RemovalTarget = {
      name: d.name,
      address: d.address,
      patroni: d.patroni,
      etcd: d.etcd,
      etcdDataDir: etcdSettings(s.inv, etcdHost).etcdDataDir,
      memberKey: memberKey(ps.namespace, ps.scope, d.name),
    };
    for (const n of checkRemoval(view, target)) out.info(`note: ${n}`);
    runner.readAgain(); // the removal changes the cluster: every step reads the hosts again
    const h = hostFor(s, d);
    if (h) {
      try {
        await connectAll(s, [h]);
      } catch (e) {
        if (!(e instanceof RunError)) throw e;
        out.info(`${d.name} (${d.address}) does not answer: its services are left as they are`);
      }
    }
    const balancers = withRole(s.inv.hosts, 'haproxy').filter((b) => s.transports.has(b.name));
    // The provider's own answer: a machine it made for this name (the lab keeps those on disk), or none.
    const machine = { name: d.name, address: d.address, port: h?.ssh.port };
    const log = () => undefined;
    const deletesMachine = (await destroyMachines(s, [machine], { check: true, log })).some((c) => c.host === d.name);
    const actions = removalActions(view, target, {
      balancers: balancers.map((b) => b.name),
      reachable: s.transports.has(d.name),
      deletesMachine,
    });
    await performRemoval(actions, view, target, {
      inventory: s.inv,
      transports: s.transports,
      target: s.transports.get(d.name),
      api: { ...patroniApi(s.inv, pgHost), address: d.address ?? '127.0.0.1' },
      log: (l) => out.info(l),
      reloadBalancers: async () => {
        // The new config, one balancer at a time, then the check that each shows the members UP.
        for (const step of haproxySteps.filter((x) => x.id === 'haproxy.config' || x.id === 'haproxy.backends'))
          await runner.runStep(step, balancers);
      },
      deleteMachine: async () => void (await destroyMachines(s, [machine], { check: false, log: (l) => out.info(l) })),
    });
    await s.transports.get(d.name)?.close();
    s.transports.delete(d.name);
    out.info(
      `removed ${d.name} from the cluster${deletesMachine ? ' and deleted its machine' : '; the provider has no machine by that name: a machine of its own stays as it is'}`,
    );
    view = (await readView(ctx).catch(() => undefined)) ?? view;
  }
  return dropped;
}
