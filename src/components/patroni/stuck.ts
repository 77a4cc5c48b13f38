// A replica that never streams. A fresh clone whose first start failed (its port was taken, say) is recovered by
// Patroni 3.0.2 as if it had crashed: it ends recovery with a record of its own, so its WAL no longer matches the
// leader's and it waits for WAL forever ("requested start point ... is ahead of ...", "invalid resource manager
// ID ...", "invalid record length ..." in a loop). It holds nothing the leader lacks: it is cloned again
// (patronictl reinit). The detection is one read-only script, used as the guard of the repair command and by the
// check after Patroni started, so a run that starts such a replica also repairs it.
import type { Resource, StepContext, Transport } from '../../engine/types.js';
import { shq } from '../../engine/quote.js';
import { now, sleep } from '../../engine/wait.js';
import { patroniSettings } from './settings.js';
import { journalCmd, renderProgram } from '../common.js';
import { localPsql, verifyMemberRunning } from './checks.js';

/** Patroni's configuration file (Debian's patroni.service reads it). */
export const PATRONI_CONFIG = '/etc/patroni/config.yml';

/** The wait-for-WAL loop of a replica whose WAL went its own way (PostgreSQL 15 wordings). */
const STUCK_LINES = [
  'requested start point .* is ahead of the upstream server.s flush position',
  'requested starting point .* is ahead of the WAL flush position',
  'invalid resource manager ID [0-9]+ at',
  'invalid record length at .*: wanted',
  'record with incorrect prev-link',
].join('|');

/**
 * Prints what this member is: `primary` (no standby.signal), `streaming`, `stuck` (a replica that does not stream
 * and whose log shows the loop above at least three times in the last two minutes; once is only the normal end
 * of local WAL before streaming starts), or `waiting` (a replica not streaming yet).
 */
export function replicaStateScript(ctx: StepContext): string {
  const s = patroniSettings(ctx.inventory, ctx.host);
  return renderProgram('patroni/replica-state.sh.hbs', {
    standby_signal: shq(`${s.pgDataDir}/standby.signal`),
    wal_receiver_status: localPsql(s.pgPort, 'select status from pg_stat_wal_receiver'),
    recent_log: journalCmd('patroni', { since: '-120s' }),
    stuck_lines: shq(STUCK_LINES),
  });
}

function reinitArgv(ctx: StepContext): string[] {
  return [
    'patronictl',
    '-c',
    PATRONI_CONFIG,
    'reinit',
    patroniSettings(ctx.inventory, ctx.host).scope,
    ctx.host.name,
    '--force',
  ];
}

/** The repair as a guarded resource (a run that finds the replica stuck from an earlier run). */
export function reinitStuckReplica(ctx: StepContext): Resource {
  return {
    kind: 'command',
    label: 'clone this replica again: its WAL went its own way (a clone whose first start failed)',
    argv: reinitArgv(ctx),
    unless: `! ( ${replicaStateScript(ctx)}\n) | grep -qx stuck`,
    timeoutMs: 120_000,
  };
}

/**
 * After Patroni runs on a member: a replica that got stuck in this very run is repaired here (bounded: it is
 * given `graceMs` to start streaming, then cloned again once, then checked to run).
 */
export async function repairIfStuck(ctx: StepContext, t: Transport, graceMs = 30_000): Promise<void> {
  if (ctx.check) return;
  const deadline = now() + graceMs;
  for (;;) {
    const state = (await t.exec(replicaStateScript(ctx), { timeoutMs: 30_000 })).stdout.trim();
    if (state === 'stuck') {
      ctx.log(`${ctx.host.name}: replica does not stream and its WAL went its own way: cloning it again`);
      const re = await t.exec(
        reinitArgv(ctx)
          .map((a) => shq(a))
          .join(' '),
        { timeoutMs: 180_000 },
      );
      if (re.code !== 0)
        ctx.log(`${ctx.host.name}: patronictl reinit exited ${re.code}: ${re.stderr.trim().split('\n').pop()}`);
      await verifyMemberRunning(ctx, t, 180_000);
      return;
    }
    if (state !== 'waiting' || now() > deadline) return; // primary, streaming, or out of patience (the cluster check reports it)
    await sleep(5000);
  }
}
