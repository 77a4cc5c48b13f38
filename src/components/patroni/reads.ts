// The read-only scripts Patroni's checks and hooks run, for the read at the start of a run (engine/prefetch.ts):
// each built by the same functions the checks use, so a check on a run that changes nothing is answered from it.
import type { StepContext, StepGroupContext } from '../../engine/types.js';
import { withRole } from '../common.js';
import { apiGetScript, patroniApi } from './api.js';
import { streamingScript, walReceiverScript } from './checks.js';
import { patroniSettings } from './settings.js';
import { replicaStateScript } from './stuck.js';

type Read = { host: string; script: string };

/** verifyMemberRunning: GET /patroni on the member. */
export function memberRunningReads(ctx: StepContext): string[] {
  return [apiGetScript(patroniApi(ctx.inventory, ctx.host), '/patroni')];
}

/** patroni.config's check: the member runs, and is no stuck replica. */
export function memberCheckReads(ctx: StepContext): string[] {
  return [...memberRunningReads(ctx), replicaStateScript(ctx)];
}

/** verifyPatroniCluster (and fetchCluster): GET /cluster, the leader's streaming replicas, each WAL receiver. */
export function clusterReads(g: Pick<StepGroupContext, 'inventory'>): Read[] {
  return withRole(g.inventory.hosts, 'postgres').flatMap((h) => {
    const port = patroniSettings(g.inventory, h).pgPort;
    return [apiGetScript(patroniApi(g.inventory, h), '/cluster'), streamingScript(port), walReceiverScript(port)].map(
      (script) => ({ host: h.name, script }),
    );
  });
}

/** chooseApiMember: GET /config on the step's members. */
export function apiMemberReads(g: Pick<StepGroupContext, 'inventory' | 'hosts'>): Read[] {
  return withRole(g.hosts, 'postgres').map((h) => ({
    host: h.name,
    script: apiGetScript(patroniApi(g.inventory, h), '/config'),
  }));
}
