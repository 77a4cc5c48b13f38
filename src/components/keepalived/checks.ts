// keepalived checks: the VIP is on exactly one balancer, and that balancer runs a healthy HAProxy.
import type { StepGroupContext } from '../../engine/types.js';
import { CheckError } from '../../util/errors.js';
import { waitFor } from '../../engine/wait.js';
import { haproxySettings } from '../haproxy/settings.js';
import { httpGet, httpGetScript, journal, requireVip, withRole } from '../common.js';
import { holdsVip, parseIpAddr } from './facts.js';

export interface VipState {
  holders: string[];
  healthy: boolean; // the single holder runs HAProxy and answers on its stats port
  detail: string;
}

export async function vipState(ctx: StepGroupContext): Promise<VipState> {
  const vip = requireVip(ctx.inventory.vip, ctx.inventory.file);
  const holders: string[] = [];
  for (const h of withRole(ctx.inventory.hosts, 'haproxy')) {
    const t = ctx.transports.get(h.name);
    if (!t) continue;
    const r = await t.exec('ip -o -4 addr show', { timeoutMs: 10_000 });
    if (holdsVip(vip, parseIpAddr(r.stdout))) holders.push(h.name);
  }
  if (holders.length !== 1)
    return {
      holders,
      healthy: false,
      detail: `VIP ${vip} on ${holders.length} hosts (${holders.join(', ') || 'none'})`,
    };
  const h = ctx.inventory.hosts.find((x) => x.name === holders[0])!;
  const t = ctx.transports.get(h.name)!;
  const active = (await t.exec('systemctl is-active haproxy', { timeoutMs: 10_000 })).stdout.trim();
  if (active !== 'active') return { holders, healthy: false, detail: `haproxy on ${h.name} is ${active}` };
  const stats = await httpGet(t, '127.0.0.1', haproxySettings(ctx.inventory, h).statsPort, '/;csv');
  if (stats.status !== 200)
    return { holders, healthy: false, detail: `haproxy stats on ${h.name} answered ${stats.status || 'nothing'}` };
  return { holders, healthy: true, detail: `VIP ${vip} on ${h.name}` };
}

/** What vipState (verifyKeepalived) reads on each balancer. */
export function vipReads(ctx: Pick<StepGroupContext, 'inventory'>) {
  return withRole(ctx.inventory.hosts, 'haproxy').flatMap((h) =>
    [
      'ip -o -4 addr show',
      'systemctl is-active haproxy',
      httpGetScript('127.0.0.1', haproxySettings(ctx.inventory, h).statsPort, '/;csv'),
    ].map((script) => ({ host: h.name, script })),
  );
}

export async function verifyKeepalived(ctx: StepGroupContext, timeoutMs: number): Promise<void> {
  const res = await waitFor(
    async () => {
      const v = await vipState(ctx);
      return { ok: v.healthy, value: v };
    },
    { timeoutMs, intervalMs: 1000, what: 'VIP placement' },
  );
  if (!res.ok) {
    const v: VipState =
      res.value instanceof Error ? { holders: [], healthy: false, detail: res.value.message } : res.value;
    const host = v.holders[0] ?? withRole(ctx.inventory.hosts, 'haproxy')[0]?.name ?? 'haproxy';
    throw new CheckError(
      host,
      'VIP on exactly one host with a healthy HAProxy',
      `${ctx.inventory.vip} on one balancer running haproxy`,
      v.detail,
      await journal(ctx.transports.get(host), 'keepalived'),
    );
  }
}
