// The host firewall (with firewall_enabled): a table of pgha's own, `inet pgha`, with input policy drop and the
// ports of each host's roles open to the hosts that need them. Written to a file (checked by `nft -c`, renamed
// into place), loaded with `nft -f` (the table is deleted and re-created in one transaction: other tables, e.g.
// Docker's, are left alone) and loaded again at boot by nftables.service through a drop-in. Off: the table and
// its files are removed.
import type { Component, Resource, StepContext } from '../../engine/types.js';
import { defineStep } from '../../engine/step.js';
import { shq } from '../../engine/quote.js';
import { sha256 } from '../../engine/kinds/file.js';
import { firewallSettings } from './settings.js';
import { firewallRules, nftRule } from './rules.js';
import { sshSourceFact, type SshSource } from './facts.js';
import { refuseLockout, verifyFirewall, verifyTable, firewallGroupReads, tableReads } from './checks.js';

export const FIREWALL_FILE = '/etc/pgha/firewall.nft';
export const FIREWALL_DROPIN = '/etc/systemd/system/nftables.service.d/pgha.conf';
/** What was loaded last: the file's checksum and the live table as nft listed it right after. */
export const LOADED_SUM = '/var/lib/pgha/firewall.sha256';
export const LOADED_TABLE = '/var/lib/pgha/firewall.live';

export interface FirewallFacts {
  ssh: SshSource;
}

/** The ports sshd serves on: the one pgha came in on and the inventory's. */
export function sshPorts(ctx: StepContext, ssh?: SshSource): number[] {
  return [...new Set([ctx.host.ssh.port, ...(ssh?.port ? [ssh.port] : [])])];
}

/** The rules file of one host. */
export function firewallFile(ctx: StepContext, ssh?: SshSource): string {
  const rules = firewallRules(ctx.inventory, ctx.host, sshPorts(ctx, ssh));
  return ctx.render('firewall/pgha.nft.hbs', {
    host: ctx.host.name,
    roles: ctx.host.roles.join(', '),
    rules: rules.map(nftRule),
  });
}

/** Where the rules and the record of the last load live (tests use a folder of their own). */
export interface FirewallPaths {
  file: string;
  dropin: string;
  sum: string;
  live: string;
}
const PATHS: FirewallPaths = { file: FIREWALL_FILE, dropin: FIREWALL_DROPIN, sum: LOADED_SUM, live: LOADED_TABLE };

/**
 * Loaded and unchanged since: the file loaded last had the wanted content (its sha256: the file itself may be
 * replaced in this very run, after the probes) and the live table is still what that load listed.
 */
export const loadedTest = (wantSha: string, p = PATHS) =>
  `[ "$(cat ${shq(p.sum)} 2>/dev/null)" = ${shq(wantSha)} ] && nft list table inet pgha 2>/dev/null | cmp -s - ${shq(p.live)}`;
export const loadScript = (p = PATHS) =>
  [
    'set -e',
    `nft -c -f ${shq(p.file)}`,
    `nft -f ${shq(p.file)}`,
    `mkdir -p ${shq(p.sum.replace(/\/[^/]+$/, ''))}`,
    `nft list table inet pgha > ${shq(p.live)}`,
    `sha256sum < ${shq(p.file)} | cut -d ' ' -f 1 > ${shq(p.sum)}`,
  ].join('\n');
/** Nothing of the firewall is left on the host (nft missing counts as no table). */
export const removedTest = (p = PATHS) =>
  `! nft list table inet pgha >/dev/null 2>&1 && [ ! -e ${shq(p.file)} ] && [ ! -e ${shq(p.dropin)} ]`;
export const removeScript = (p = PATHS) =>
  [
    `if nft list table inet pgha >/dev/null 2>&1; then nft delete table inet pgha; fi`,
    `rm -f ${[p.file, p.dropin, p.sum, p.live].map(shq).join(' ')}`,
    'systemctl daemon-reload',
  ].join('\n');

export function firewallResources(ctx: StepContext, facts: Partial<FirewallFacts>): Resource[] {
  if (!firewallSettings(ctx.inventory, ctx.host).enabled)
    return [
      { kind: 'command', label: 'remove the pgha firewall table', script: removeScript(), unless: removedTest() },
    ];
  const content = firewallFile(ctx, facts.ssh);
  return [
    { kind: 'packages', names: ['nftables'] },
    {
      kind: 'file',
      path: FIREWALL_FILE,
      content,
      mode: '0644',
      validate: 'nft -c -f %s',
    },
    {
      kind: 'file',
      path: FIREWALL_DROPIN,
      // nftables.service loads /etc/nftables.conf (whose Debian default starts with `flush ruleset`), then this
      // table; its reload does the same. The service is enabled for boot, never (re)started by pgha.
      content: `# Managed by pgha: pgha's host firewall table, loaded after /etc/nftables.conf.\n[Service]\nExecStart=/usr/sbin/nft -f ${FIREWALL_FILE}\nExecReload=/usr/sbin/nft -f ${FIREWALL_FILE}\n`,
    },
    { kind: 'service', name: 'nftables', enabled: true },
    {
      kind: 'command',
      label: `load the pgha firewall table (${FIREWALL_FILE})`,
      script: loadScript(),
      unless: loadedTest(sha256(content)),
    },
  ];
}

const config = defineStep<FirewallFacts>({
  id: 'firewall.config',
  title: 'Host firewall (nftables table inet pgha: the ports of each role, from the hosts that need them)',
  facts: (ctx) => (firewallSettings(ctx.inventory, ctx.host).enabled ? { ssh: sshSourceFact() } : ({} as never)),
  before: (ctx) => refuseLockout(ctx),
  resources: firewallResources,
  verify: (ctx, t) => verifyTable(ctx, t),
  verifyGroup: (ctx) => verifyFirewall(ctx),
  reads: tableReads,
  groupReads: firewallGroupReads,
});

export const firewallSteps = [config];

export const firewall: Component = { name: 'firewall', steps: firewallSteps };
