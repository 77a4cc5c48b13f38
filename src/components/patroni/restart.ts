// Rolling restart of members whose PostgreSQL settings need one (pending_restart after a parameter change
// such as max_connections or shared_buffers): one member at a time, replicas first, the leader last, each
// back to `running` before the next. Patroni restarts PostgreSQL in place (POST /restart); no failover.
import type { Host } from '../../inventory/types.js';
import type { Step, StepGroupContext } from '../../engine/types.js';
import { shq } from '../../engine/quote.js';
import { sleep } from '../../engine/wait.js';
import { settingsFor } from '../defaults.js';
import { secret } from '../secrets.js';
import { withRole } from '../common.js';
import { fetchCluster, verifyMemberRunning } from './checks.js';
import { LEADER_ROLES } from './facts.js';

/** Exit 0 when this member has no pending restart (GET /patroni on the member itself). */
export function noPendingRestartScript(apiPort: number): string {
  const py = [
    'import json, urllib.request',
    `s = json.loads(urllib.request.urlopen("http://127.0.0.1:${apiPort}/patroni", timeout=5).read())`,
    'raise SystemExit(1 if s.get("pending_restart") else 0)',
  ].join('\n');
  return `python3 -c ${shq(py)}`;
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
export function restartScript(apiPort: number, { timeoutSec = 120, settleSec = 10, pollSec = 1 }: RestartTimes = {}): string {
  const py = [
    'import json, sys, time, base64, urllib.request',
    'cred = json.loads(sys.stdin.read())',
    'auth = base64.b64encode((cred["user"] + ":" + cred["password"]).encode()).decode()',
    `base = "http://127.0.0.1:${apiPort}"`,
    'req = urllib.request.Request(base + "/restart", data=b"{}", method="POST", headers={"Content-Type": "application/json", "Authorization": "Basic " + auth})',
    'print(urllib.request.urlopen(req, timeout=90).read().decode())',
    `deadline = time.time() + ${timeoutSec}`,
    'while time.time() < deadline:',
    '    try:',
    '        s = json.loads(urllib.request.urlopen(base + "/patroni", timeout=5).read())',
    '        if s.get("state") == "running":',
    // After the primary's restart, give the replicas time to replay its new settings before they are visited again.
    `            if s.get("role") in ("master", "primary"): time.sleep(${settleSec})`,
    '            raise SystemExit(0)',
    '    except SystemExit: raise',
    '    except Exception: pass',
    `    time.sleep(${pollSec})`,
    'sys.exit("member did not come back to running in time")',
  ].join('\n');
  return `python3 -c ${shq(py)}`;
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
    if (ctx.check || (ctx.changedInRun('patroni.dcs').length === 0 && ctx.changedInRun('patroni.config').length === 0)) return;
    const loopWait = Math.max(...withRole(ctx.hosts, 'postgres').map((h) => settingsFor(ctx.inventory, h).loopWait));
    await sleep((2 * loopWait + 1) * 1000);
  },
  resources(ctx) {
    const s = settingsFor(ctx.inventory, ctx.host);
    const password = secret(ctx, 'patroni_api_password');
    return [
      {
        kind: 'command',
        label: 'restart PostgreSQL through Patroni (pending restart)',
        script: restartScript(s.apiPort),
        stdin: JSON.stringify({ user: s.apiUser, password }),
        secrets: [password],
        unless: noPendingRestartScript(s.apiPort),
        timeoutMs: 180_000,
      },
    ];
  },
  verify: (ctx, t) => verifyMemberRunning(ctx, t, 120_000),
};
