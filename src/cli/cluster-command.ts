// What the cluster commands (switchover, failover, restart, reinit) share: a session on the postgres members, the
// member table before and after, a confirmation that says what happens, a REST call made through any member whose
// API answers, and the end-to-end verification of `pgha verify` once the run lock is released.
import type { Host } from '../inventory/types.js';
import type { StepGroupContext } from '../engine/types.js';
import { Runner } from '../engine/runner.js';
import { withRole } from '../components/common.js';
import { firstAnsweringMember } from '../components/patroni/api-member.js';
import { restAuthInput } from '../components/patroni/restart.js';
import { RunError } from '../util/errors.js';
import { confirmLoss, terminalIO, type ConfirmIO } from './confirm.js';
import { connectAll, openSession, type GlobalOptions, type Session } from './session.js';
import { formatMembers, membersOf, type MemberStatus } from './status.js';
import { fetchCluster } from '../components/patroni/checks.js';
import { runPlaybook } from './playbook-run.js';
import type { Out } from './output.js';
import { patroniApi, type PatroniApi } from '../components/patroni/api.js';

export interface ClusterCommand {
  s: Session;
  ctx: StepGroupContext;
  runner: Runner;
  members: Host[];
}

/** Opens the session (run lock held) and connects to the postgres members that answer. */
export async function openClusterCommand(g: GlobalOptions, out: Out, what: string): Promise<ClusterCommand> {
  const s = await openSession({ ...g, limit: undefined }, what, { check: false, onExec: out.exec });
  const members = withRole(s.inv.hosts, 'postgres');
  try {
    await connectAll(s, members);
  } catch (e) {
    if (!(e instanceof RunError) || s.transports.size === 0) {
      await s.close();
      throw e;
    }
    for (const f of e.failures) out.info(`not connected: ${f.host} (${f.error.message.split('\n')[0]})`);
  }
  const runner = new Runner({
    inventory: s.inv,
    secrets: s.secrets,
    transports: s.transports,
    check: false,
    diff: false,
    events: out.events,
  });
  return { s, ctx: runner.groupContext(members), runner, members };
}

/** The member table as Patroni sees it now (GET /cluster from any member that answers). */
export async function memberTable(ctx: StepGroupContext): Promise<{ text: string; members: MemberStatus[] }> {
  const got = await fetchCluster(ctx).catch(() => undefined);
  if (!got) return { text: '(no member answers GET /cluster)', members: [] };
  const members = membersOf(got);
  return { text: formatMembers(members), members };
}

/** Prints the member table under "before:" and returns it. */
export async function showBefore(c: ClusterCommand, out: Out): Promise<{ text: string; members: MemberStatus[] }> {
  const before = await memberTable(c.ctx);
  out.info('before:');
  out.info(before.text);
  return before;
}

/** Asks on a terminal (or takes --yes) before the command acts; `lost`: what clients lose meanwhile. */
export async function confirmAction(
  command: string,
  steps: { host: string; summary: string }[],
  lost: string[],
  yes: boolean,
  io: ConfirmIO = terminalIO(),
): Promise<void> {
  await confirmLoss({ command, changes: steps.map((x) => ({ ...x, action: 'change' as const })), lost }, yes, io);
}

/** Runs a REST program on the first member whose API answers (credentials on stdin); its output, or throws. */
export async function onAnsweringMember(
  c: ClusterCommand,
  script: (api: PatroniApi) => string,
  what: string,
  timeoutMs: number,
): Promise<{ host: string; stdout: string }> {
  const { host, passed } = await firstAnsweringMember(c.ctx, c.members);
  if (!host)
    throw new RunError(what, [
      {
        host: 'cluster',
        error: new Error(`no member's REST API answers (${passed.map((p) => `${p.host}: ${p.reason}`).join('; ')})`),
      },
    ]);
  return { host: host.name, stdout: await onMember(c, host, script, what, timeoutMs) };
}

/** Runs a REST program on one member (credentials on stdin); its output, or throws with its error. */
export async function onMember(
  c: ClusterCommand,
  host: Host,
  script: (api: PatroniApi) => string,
  what: string,
  timeoutMs: number,
): Promise<string> {
  const t = c.s.transports.get(host.name);
  if (!t) throw new RunError(what, [{ host: host.name, error: new Error('not connected') }]);
  const r = await t.exec(script(patroniApi(c.s.inv, host)), {
    ...restAuthInput({ inventory: c.s.inv, host, secrets: c.s.secrets }),
    timeoutMs,
  });
  if (r.code !== 0)
    throw new RunError(what, [{ host: host.name, error: new Error((r.stderr.trim() || r.stdout.trim()) ?? '') }]);
  return r.stdout.trim();
}

/** Prints the table after, releases the lock, and verifies the cluster end to end as `pgha verify` does. */
export async function finish(g: GlobalOptions, out: Out, c: ClusterCommand): Promise<{ after: MemberStatus[] }> {
  const t = await memberTable(c.ctx).finally(() => c.s.close());
  out.info('after:');
  out.info(t.text);
  await runPlaybook({ ...g, limit: undefined }, out, 'verify', { check: false, diff: false }, 'verify');
  return { after: t.members };
}
