// Cluster-wide REST API calls (PATCH /config) go through one member: the first, in inventory order, whose Patroni
// REST API answers GET /config. A member that is down, not connected or cut off from the DCS is passed over, and
// the step's log says which member was used and why the ones before it were not.
import type { Host, Inventory } from '../../inventory/types.js';
import type { StepGroupContext } from '../../engine/types.js';
import { withRole } from '../common.js';
import { patroniGet } from './api.js';

export interface PassedMember {
  host: string;
  reason: string;
}

/** The first of `hosts` whose REST API answers GET /config with 200, and the members passed over before it. */
export async function firstAnsweringMember(
  ctx: StepGroupContext,
  hosts: Host[],
): Promise<{ host?: Host; passed: PassedMember[] }> {
  const passed: PassedMember[] = [];
  for (const h of hosts) {
    const t = ctx.transports.get(h.name);
    if (!t) {
      passed.push({ host: h.name, reason: 'not connected' });
      continue;
    }
    try {
      const r = await patroniGet(t, ctx.inventory, h, '/config');
      if (r.status === 200) return { host: h, passed };
      passed.push({
        host: h.name,
        reason: r.status ? `REST API answers GET /config with ${r.status}` : 'REST API does not answer',
      });
    } catch {
      passed.push({ host: h.name, reason: 'REST API does not answer' });
    }
  }
  return { passed };
}

/** The member chosen for the cluster-wide calls of the current run, by inventory (set by chooseApiMember). */
const chosen = new WeakMap<Inventory, string>();

/**
 * Choose the member that makes the cluster-wide calls of this run among the step's postgres hosts and say which
 * one in the log. When none answers (a cluster not bootstrapped yet, as in a first plan), the first connected
 * member is used: its call fails or is planned as it would have been without the choice.
 */
export async function chooseApiMember(ctx: StepGroupContext, call: string): Promise<string | undefined> {
  const members = withRole(ctx.hosts, 'postgres');
  const { host, passed } = await firstAnsweringMember(ctx, members);
  const why = passed.map((p) => `${p.host}: ${p.reason}`).join('; ');
  const verb = ctx.check ? 'would run' : 'runs';
  let name = host?.name;
  if (host) {
    ctx.log(`${call} ${verb} on ${host.name}${why ? ` (passed over ${why})` : ' (its REST API answers)'}`);
  } else {
    name = members.find((h) => ctx.transports.has(h.name))?.name;
    if (name) ctx.log(`${call} ${verb} on ${name}: no member's REST API answers (${why})`);
    else ctx.log(`${call} is skipped: no member is connected`);
  }
  chosen.set(ctx.inventory, name ?? '');
  return name;
}

/** Whether `host` makes the cluster-wide calls: the chosen member, or before any choice the first member. */
export function isApiMember(inv: Inventory, hosts: Host[], host: Host): boolean {
  const name = chosen.has(inv) ? chosen.get(inv) : withRole(hosts, 'postgres')[0]?.name;
  return name === host.name;
}
