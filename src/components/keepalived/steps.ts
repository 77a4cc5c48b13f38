// keepalived on role haproxy: one VRRP instance carrying the inventory's VIP. The first haproxy host has the
// highest priority; a track script puts a balancer whose HAProxy is gone into FAULT, so the VIP moves.
import type { Component, Resource, Step, StepContext } from '../../engine/types.js';
import { defineStep } from '../../engine/step.js';
import { UserError } from '../../util/errors.js';
import { keepalivedSettings, vrrpPassword } from './settings.js';
import { requireVip, withRole } from '../common.js';
import { addrFact, interfaceFor, type AddrEntry } from './facts.js';
import { verifyKeepalived, vipReads } from './checks.js';

export const KEEPALIVED_CONFIG = '/etc/keepalived/keepalived.conf';
export const CHECK_SCRIPT = '/etc/keepalived/check_haproxy.sh';

/** 150 for the first balancer, then 100, 99, ... (the gap of 50 keeps the first one master when healthy). */
export function priorityFor(index: number): number {
  return index === 0 ? 150 : Math.max(1, 101 - index);
}

/** What the config step reads on a balancer: its IPv4 addresses, by interface. */
export interface AddressFacts {
  addresses: AddrEntry[];
}

export function keepalivedResources(ctx: StepContext, facts: Partial<AddressFacts>): Resource[] {
  const s = keepalivedSettings(ctx.inventory, ctx.host);
  const vip = requireVip(ctx.inventory.vip, ctx.inventory.file);
  const balancers = withRole(ctx.hosts, 'haproxy');
  const index = balancers.findIndex((h) => h.name === ctx.host.name);
  // The guess made before the facts are read (engine: what to probe) only needs the files' paths: any interface.
  const guess = facts.addresses === undefined;
  const iface = s.kaInterface || (guess ? 'guess' : interfaceFor(ctx.host.address, facts.addresses ?? []));
  if (!iface) {
    throw new UserError(
      `no interface on ${ctx.host.name} carries its address ${ctx.host.address}`,
      'set vars.keepalived_interface for this host',
      { file: ctx.inventory.file, field: 'vars.keepalived_interface' },
    );
  }
  const peers = balancers.filter((h) => h.name !== ctx.host.name).map((h) => h.address);
  const conf = ctx.render('keepalived/keepalived.conf.hbs', {
    router_id: ctx.host.name,
    check_script: CHECK_SCRIPT,
    interface: iface,
    virtual_router_id: s.routerId,
    priority: priorityFor(Math.max(0, index)),
    auth_pass: vrrpPassword(ctx),
    // A lone balancer has no peer to send adverts to (keepalived refuses a unicast block without peers).
    unicast: s.unicast && peers.length > 0,
    address: ctx.host.address,
    peers,
    vip,
    prefix: ctx.inventory.prefix,
  });
  return [
    { kind: 'file', path: CHECK_SCRIPT, content: ctx.render('keepalived/check_haproxy.sh.hbs', {}), mode: '0755' },
    {
      kind: 'file',
      path: KEEPALIVED_CONFIG,
      content: conf,
      mode: '0600',
      secret: true,
      // -e: a missing file is an error too (plain -t exits 0 on it).
      validate: 'keepalived -t -e -f %s',
      notify: [{ service: 'keepalived', action: 'reload' }],
    },
    { kind: 'service', name: 'keepalived', enabled: true, state: 'started' },
  ];
}

const install: Step = {
  id: 'keepalived.install',
  title: 'Install keepalived',
  resources: () => [{ kind: 'packages', names: ['keepalived'] }],
};

const config = defineStep({
  id: 'keepalived.config',
  title: 'Configure keepalived (VRRP instance for the VIP, HAProxy track script)',
  needs: ['haproxy.config'], // its track script wants HAProxy running on the balancer
  facts: () => ({ addresses: addrFact }),
  resources: keepalivedResources,
  verifyGroup: (ctx) => verifyKeepalived(ctx, 20_000),
  groupReads: vipReads,
});

export const keepalivedSteps: Step[] = [install, config];

export const keepalived: Component = { name: 'keepalived', steps: keepalivedSteps };
