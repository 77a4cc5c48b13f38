// Rolling restart of members whose PostgreSQL settings need one (pending_restart after a parameter change
// such as max_connections or shared_buffers): one member at a time, replicas first, the leader last, each
// back to `running` before the next. Patroni restarts PostgreSQL in place (POST /restart); no failover.
import type { Host } from '../../inventory/types.js';
import type { Step, StepContext, StepGroupContext } from '../../engine/types.js';
import { sleep } from '../../engine/wait.js';
import { patroniSettings } from './settings.js';
import { secret } from '../secrets.js';
import { python3, renderProgram, withRole } from '../common.js';
import { fetchCluster, verifyMemberRunning } from './checks.js';
import { LEADER_ROLES } from './facts.js';

/** Exit 0 when this member has no pending restart (GET /patroni on the member itself). */
export function noPendingRestartScript(apiPort: number): string {
  return python3(renderProgram('patroni/pending-restart.py.hbs', { api_port: apiPort }));
}

/** The Python lines that read the REST API's Basic auth from stdin into `auth` (shared by the programs that write). */
export function restAuthLines(): string {
  return renderProgram('patroni/rest-auth.py.hbs');
}

/** What a command running those programs takes: the REST API credentials as JSON on stdin, masked in its output. */
export function restAuthInput(ctx: StepContext): { stdin: string; secrets: string[] } {
  const password = secret(ctx, 'patroni_api_password');
  return {
    stdin: JSON.stringify({ user: patroniSettings(ctx.inventory, ctx.host).apiUser, password }),
    secrets: [password],
  };
}

export interface RestartTimes {
  /** How long the member may take to run again (default 120 s). */
  timeoutSec?: number;
  /** Pause after the primary runs again, for the replicas to replay its new settings (default 10 s). */
  settleSec?: number;
  /** Between two looks at the member (default 1 s). */
  pollSec?: number;
}

/** POST /restart with the REST API credentials from stdin, then wait (bounded) until the member runs again. */
export function restartScript(
  apiPort: number,
  { timeoutSec = 120, settleSec = 10, pollSec = 1 }: RestartTimes = {},
): string {
  const vars = {
    rest_auth: restAuthLines(),
    api_port: apiPort,
    timeout_sec: timeoutSec,
    settle_sec: settleSec,
    poll_sec: pollSec,
  };
  return python3(renderProgram('patroni/restart.py.hbs', vars));
}

/**
 * Replicas first (inventory order), the leader last. When the leader itself waits for a restart, the replicas
 * are visited once more after it: a lowered max_connections (or another setting a standby may not have lower
 * than its primary) only takes on a replica once the primary runs with it. A visit with nothing pending is a no-op.
 */
async function replicasFirst(ctx: StepGroupContext): Promise<Host[]> {
  const c = await fetchCluster(ctx);
  const leader = c?.cluster.members.find((m) => LEADER_ROLES.includes(m.role) || m.role === 'master');
  const replicas = ctx.hosts.filter((h) => h.name !== leader?.name);
  const last = ctx.hosts.filter((h) => h.name === leader?.name);
  return leader?.pendingRestart ? [...replicas, ...last, ...replicas] : [...replicas, ...last];
}

export const restartStep: Step = {
  id: 'patroni.restart',
  title: 'Restart members with a pending restart (one at a time, replicas first, leader last)',
  serial: true,
  order: replicasFirst,
  async before(ctx) {
    // A parameter change made earlier in this run reaches each member on its next HA loop: give it that long.
    if (ctx.check || (ctx.changedInRun('patroni.dcs').length === 0 && ctx.changedInRun('patroni.config').length === 0))
      return;
    const loopWait = Math.max(
      ...withRole(ctx.hosts, 'postgres').map((h) => patroniSettings(ctx.inventory, h).loopWait),
    );
    await sleep((2 * loopWait + 1) * 1000);
  },
  resources(ctx) {
    const s = patroniSettings(ctx.inventory, ctx.host);
    return [
      {
        kind: 'command',
        label: 'restart PostgreSQL through Patroni (pending restart)',
        script: restartScript(s.apiPort),
        ...restAuthInput(ctx),
        unless: noPendingRestartScript(s.apiPort),
        timeoutMs: 180_000,
      },
    ];
  },
  verify: (ctx, t) => verifyMemberRunning(ctx, t, 120_000),
};
