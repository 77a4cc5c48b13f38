// Firewall checks: before any change, pgha's own SSH address must be an admin address on every host that gets
// the firewall; after the step, the table is loaded, and each host's role ports answer (open or refused, never
// silence) from the hosts that need them.
import type { Host } from '../../inventory/types.js';
import type { StepContext, StepGroupContext, Transport } from '../../engine/types.js';
import { CheckError, UserError } from '../../util/errors.js';
import { waitFor } from '../../engine/wait.js';
import { errText } from '../common.js';
import { firewallSettings, inCidrs } from './settings.js';
import { firewallRules } from './rules.js';
import { parseSshSource, probeFrom, probeScript, sshSourceFact, type ProbeTarget, type SshSource } from './facts.js';

/** Why this host's firewall would cut pgha's SSH session (undefined: it would not). */
export function lockoutProblem(h: Host, admin: readonly string[], src: SshSource): string | undefined {
  if (!src.client) return `${h.name}: the address pgha connects from cannot be read on the host (no SSH_CONNECTION)`;
  if (inCidrs(src.client, admin)) return undefined;
  return `${h.name}: pgha connects from ${src.client}, outside firewall_admin_cidrs (${admin.join(', ')})`;
}

/** Refuse (before anything changes) a firewall that would shut pgha's own SSH access out of a host. */
export async function refuseLockout(ctx: StepGroupContext): Promise<void> {
  const on = ctx.hosts.filter((h) => firewallSettings(ctx.inventory, h).enabled);
  const problems = await Promise.all(
    on.map(async (h) => {
      const t = ctx.transports.get(h.name);
      if (!t) return undefined;
      const r = await t.exec(sshSourceFact().script, { timeoutMs: 15_000 });
      return lockoutProblem(h, firewallSettings(ctx.inventory, h).adminCidrs, parseSshSource(r.stdout));
    }),
  );
  const bad = problems.filter((p): p is string => p !== undefined);
  if (bad.length)
    throw new UserError(
      `the firewall would cut pgha's SSH access: ${bad.join('; ')}`,
      "add the address pgha connects from (or its network, or the jump host's) to vars.firewall_admin_cidrs; nothing was changed",
      { file: ctx.inventory.file, field: 'vars.firewall_admin_cidrs' },
    );
}

const TABLE_SCRIPT = 'nft list chain inet pgha input 2>&1';

/** What verifyTable reads. */
export function tableReads(ctx: StepContext): string[] {
  return firewallSettings(ctx.inventory, ctx.host).enabled ? [TABLE_SCRIPT] : [];
}

/** What refuseLockout and verifyFirewall read: the SSH source on each host that gets the firewall, the probes. */
export function firewallGroupReads(ctx: Pick<StepGroupContext, 'inventory' | 'hosts'>) {
  return [
    ...ctx.hosts
      .filter((h) => firewallSettings(ctx.inventory, h).enabled)
      .map((h) => ({ host: h.name, script: sshSourceFact().script })),
    ...[...neededProbes(ctx, ctx.hosts)].map(([from, targets]) => ({ host: from, script: probeScript(targets, 3) })),
  ];
}

/** The table is loaded with its drop policy. */
export async function verifyTable(ctx: StepContext, t: Transport): Promise<void> {
  if (!firewallSettings(ctx.inventory, ctx.host).enabled) return;
  const r = await t.exec(TABLE_SCRIPT, { timeoutMs: 15_000 });
  if (r.code !== 0 || !/policy drop;/.test(r.stdout))
    throw new CheckError(
      ctx.host.name,
      'firewall table loaded',
      'table inet pgha with its input chain, policy drop',
      r.stdout.trim() || `nft exit ${r.code}`,
    );
}

/**
 * From each inventory host a rule names, every port of that rule on the target: the inventory's hosts that need
 * a port get through (a reset from a port nothing listens on yet counts: the packet was let in).
 */
export function neededProbes(ctx: Pick<StepGroupContext, 'inventory'>, hosts: Host[]): Map<string, ProbeTarget[]> {
  const byAddress = new Map(ctx.inventory.hosts.map((h) => [h.address, h.name]));
  const out = new Map<string, ProbeTarget[]>();
  for (const target of hosts) {
    if (!firewallSettings(ctx.inventory, target).enabled) continue;
    for (const rule of firewallRules(ctx.inventory, target, [target.ssh.port])) {
      if (!rule.tcp || rule.what === 'ssh') continue;
      const ports = rule.tcp.map((p) => Number(String(p).split('-')[0]));
      for (const src of rule.from) {
        const from = byAddress.get(src);
        if (!from) continue;
        const list = out.get(from) ?? [];
        for (const port of ports)
          if (!list.some((x) => x.address === target.address && x.port === port))
            list.push({ address: target.address, port });
        out.set(from, list);
      }
    }
  }
  return out;
}

export async function verifyFirewall(ctx: StepGroupContext, timeoutMs = 20_000): Promise<void> {
  const failed = await Promise.all(
    [...neededProbes(ctx, ctx.hosts)].map(async ([from, targets]) => {
      const t = ctx.transports.get(from);
      if (!t) return undefined;
      const res = await waitFor(
        async () => {
          const got = await probeFrom(t, targets);
          const silent = targets
            .map((x) => `${x.address}:${x.port}`)
            .filter((k) => got.get(k) !== 'open' && got.get(k) !== 'refused');
          return { ok: silent.length === 0, value: silent.join(' ') };
        },
        { timeoutMs, intervalMs: 1000, what: 'firewall ports' },
      );
      return res.ok ? undefined : { from, targets, silent: errText(res.value) };
    }),
  );
  const f = failed.find((x) => x !== undefined);
  if (f)
    throw new CheckError(
      f.from,
      'firewall lets in what this host needs',
      `an answer (connected or refused) from ${f.targets.map((x) => `${x.address}:${x.port}`).join(' ')}`,
      `no answer from ${f.silent}`,
    );
}
