// The in-place move of a running plain cluster to TLS (see ./tls.ts), in the playbook after the etcd component
// (which gave every member its certificates: prep):
//   etcd.secure-first: the first etcd member of the inventory is switched: its peer URL moved to https with
//     `etcdctl member update`, followed at once by a restart with https peer and client URLs only (etcd's
//     documented way to change a member's peer URL), healthy before going on.
//   etcd.patroni-dcs: Patroni switched to https. Patroni reads its etcd3 section only when it starts (a reload
//     does not reconnect), and a Patroni that stops on the leader stops PostgreSQL and hands the leader key on.
//     So the cluster is paused first (maintenance mode: a stopping Patroni leaves PostgreSQL and the leader key
//     alone), then Patroni restarts with the new section, one member at a time, each running before the next.
//   etcd.patroni-resume: the pause pgha made (and only that one) is lifted.
//   etcd.secure: the other members are switched the same way, one at a time, each healthy before the next.
// On a cluster built with TLS, or without tls_enabled, these steps change nothing.
import type { Component, Resource, Step, StepContext } from '../../engine/types.js';
import { withRole } from '../common.js';
import { defineStep } from '../../engine/step.js';
import { shq } from '../../engine/quote.js';
import { etcdctl } from './facts.js';
import { configFacts, etcdConfigFile, type ConfigFacts } from './steps.js';
import { agreementReads, formedMemberReads, verifyEtcdCluster, verifyFormedMember } from './checks.js';
import { etcdPhase, etcdTls, localClient, patroniEtcdTlsFiles, peerUrl } from './tls.js';
import { configScript, patroniConfigFile, PATRONI_CONFIG } from '../patroni/steps.js';
import { SCHEME_SCRIPT } from '../patroni/tls-switch.js';
import { patroniApi } from '../patroni/api.js';
import { restAuthInput } from '../patroni/restart.js';
import { verifyMemberRunning } from '../patroni/checks.js';

/** Left on the member that paused the cluster for the switch, so that only that pause is lifted. */
export const PAUSE_MARKER = '/run/pgha-etcd-tls-paused';

/** What Patroni's config on this host says about etcd now. */
export interface PatroniDcsFacts {
  /** 'none': no config yet (a new member: patroni.config writes it with TLS). */
  patroniDcs: 'none' | 'http' | 'https';
  /** How the host's Patroni REST API serves now (patroni.tls moves it; the switch to etcd over https keeps it). */
  patroniRest: 'none' | 'http' | 'https';
}

/** Whether a Patroni config's etcd3 section speaks https. */
export function patroniDcsScheme(config: string): PatroniDcsFacts['patroniDcs'] {
  if (config.trim() === '') return 'none';
  const etcd3 = /^etcd3:\n((?:[ \t].*\n?|\n)*)/m.exec(config)?.[1] ?? '';
  return /^\s+protocol:\s*https\s*$/m.test(etcd3) ? 'https' : 'http';
}

/** The resources of the Patroni switch on one member (none when nothing is to switch). */
export function patroniSwitch(ctx: StepContext, facts: Partial<PatroniDcsFacts>): Resource[] {
  if (!etcdTls(ctx.inventory, ctx.host) || facts.patroniDcs !== 'http') return [];
  // The REST API and PostgreSQL stay as they are on the host: their switch to TLS (patroni.tls) comes later, with
  // HAProxy's checks following one member at a time.
  const file = patroniConfigFile(ctx, { restTls: facts.patroniRest === 'https' });
  return [
    {
      kind: 'command',
      label: 'pause the cluster while Patroni restarts with etcd over https (PostgreSQL keeps running)',
      script: `${configScript(patroniApi(ctx.inventory, ctx.host), { pause: true }, true)} && touch ${PAUSE_MARKER}`,
      ...restAuthInput(ctx),
      unless: configScript(patroniApi(ctx.inventory, ctx.host), { pause: true }, false),
    },
    ...patroniEtcdTlsFiles(ctx),
    { ...file, notify: [{ service: 'patroni', action: 'restart' }] },
  ];
}

const patroniDcs = defineStep({
  id: 'etcd.patroni-dcs',
  title: 'Switch Patroni to etcd over https (cluster paused, one member at a time)',
  serial: true,
  // The first etcd member answers over https (etcd hosts may be other hosts than Patroni's).
  needs: ['etcd.secure-first'],
  facts: () => ({
    patroniDcs: {
      script: `cat ${PATRONI_CONFIG} 2>/dev/null || true`,
      parse: patroniDcsScheme,
    },
    patroniRest: { script: SCHEME_SCRIPT, parse: (out: string) => out.trim() as PatroniDcsFacts['patroniRest'] },
  }),
  resources: patroniSwitch,
  // Only where this step restarted Patroni: elsewhere patroni.config's own check follows.
  async verify(ctx, t, r) {
    if (!r?.changed) return;
    const active = await t.exec(`test -e ${PATRONI_CONFIG} && systemctl is-active --quiet patroni`);
    if (active.code === 0) await verifyMemberRunning(ctx, t, 120_000);
  },
});

const patroniResume = defineStep({
  id: 'etcd.patroni-resume',
  title: 'Resume the cluster paused for the switch to etcd over https',
  needs: ['etcd.patroni-dcs'], // every member switched
  resources(ctx) {
    return [
      {
        kind: 'command',
        label: 'resume the cluster (paused by pgha for the switch to etcd over https)',
        script: `${configScript(patroniApi(ctx.inventory, ctx.host), { pause: null }, true)} && rm -f ${PAUSE_MARKER}`,
        ...restAuthInput(ctx),
        unless: `! test -e ${PAUSE_MARKER}`,
      },
    ];
  },
});

const ID = '@member-id@';

/** The etcdctl script that changes this member's peer URL to https (its id looked up by name). */
export function memberUpdateScript(ctx: StepContext): string {
  const c = localClient(ctx.inventory, ctx.host);
  const url = peerUrl(ctx.inventory, ctx.host, 'https');
  return [
    'set -e',
    `id=$(${etcdctl(c, ['member', 'list', '-w', 'simple'])} | awk -F', ' -v n=${shq(ctx.host.name)} '$3 == n { print $1 }')`,
    `test -n "$id" || { echo ${shq(`${ctx.host.name} is not in the etcd member list`)} >&2; exit 1; }`,
    etcdctl(c, ['member', 'update', ID, `--peer-urls=${url}`]).replaceAll(shq(ID), '"$id"'),
  ].join('\n');
}

/** Exit 0 when the member list already has this member's https peer URL. */
export function memberUpdatedTest(ctx: StepContext): string {
  const c = localClient(ctx.inventory, ctx.host);
  const url = peerUrl(ctx.inventory, ctx.host, 'https');
  return `${etcdctl(c, ['member', 'list', '-w', 'simple'])} | grep -qF ${shq(`, ${ctx.host.name}, ${url},`)}`;
}

/** The member etcd.secure-first switches: the first etcd host of the inventory. */
function isFirst(ctx: StepContext): boolean {
  return withRole(ctx.inventory.hosts, 'etcd')[0]?.name === ctx.host.name;
}

/** etcd.secure-first (`first`) or etcd.secure: switch a prep member to https peer and client URLs. */
function secureStep(first: boolean): Step<Partial<ConfigFacts>> {
  return defineStep({
    id: first ? 'etcd.secure-first' : 'etcd.secure',
    title: first
      ? 'Switch the first etcd member to https (peer URL update, restart)'
      : 'Switch the other etcd members to https, one at a time (peer URL update, restart)',
    serial: true,
    // The other members move once every Patroni talks https to the first one.
    needs: first ? [] : ['etcd.patroni-resume'],
    facts: configFacts,
    resources: (ctx, facts) => (first && !isFirst(ctx) ? [] : switchMember(ctx, facts)),
    verify: verifyFormedMember,
    verifyGroup: (ctx) => verifyEtcdCluster(ctx, 60_000),
    reads: formedMemberReads,
    groupReads: agreementReads,
  });
}

/** `etcdctl member update` to the https peer URL, then the secure config (restart); nothing unless prep. */
export function switchMember(ctx: StepContext, facts: Partial<ConfigFacts>): Resource[] {
  const tls = etcdTls(ctx.inventory, ctx.host);
  if (etcdPhase(tls, facts.etcdMember === true, facts.etcdDefault ?? '') !== 'prep') return [];
  return [
    {
      kind: 'command',
      label: `etcdctl member update ${ctx.host.name} --peer-urls=${peerUrl(ctx.inventory, ctx.host, 'https')}`,
      script: memberUpdateScript(ctx),
      unless: memberUpdatedTest(ctx),
    },
    etcdConfigFile(ctx, facts, true, 'secure'),
  ];
}

export const etcdMigrateSteps: Step[] = [secureStep(true), patroniDcs, patroniResume, secureStep(false)];

/** Steps the playbook names one by one (`step: etcd.secure`); not a component play of its own. */
export const etcdMigrate: Component = { name: 'etcd-tls-move', steps: etcdMigrateSteps };
