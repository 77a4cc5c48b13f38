// etcd on role etcd: a 3-member cluster formed on the first run, joined (never re-formed) afterwards.
//
// Why a policy-rc.d during the install: Debian's postinst starts etcd at once with a one-member cluster on
// localhost. Blocking that start (only for etcd, only while etcd-server is not installed yet) means the first
// start already reads /etc/default/etcd. pgha also uses its own data dir (not /var/lib/etcd/default), so a
// member the package did start elsewhere can never be taken for a member of this cluster.
import type { Component, FactSpecs, FileResource, Resource, Step, StepContext } from '../../engine/types.js';
import { defineStep } from '../../engine/step.js';
import { etcdSettings } from './settings.js';
import { withRole } from '../common.js';
import { installedFact, memberDataFact, peersFact, type EtcdMemberList } from './facts.js';
import {
  agreementReads,
  formedMemberReads,
  localHealthScript,
  memberProbeReads,
  reconcileMembers,
  verifyEtcdCluster,
  verifyFormedMember,
  verifyLocalMember,
} from './checks.js';
import { tlsFiles, tlsPaths } from '../tls/files.js';
import { UserError } from '../../util/errors.js';
import { ETCD_TLS_DIR, etcdPhase, etcdTls, inPlaceProblem, membersClient, peerUrl, type EtcdPhase } from './tls.js';

export const POLICY_RC_D = '/usr/sbin/policy-rc.d';
export const ETCD_DEFAULT_FILE = '/etc/default/etcd';

function members(ctx: StepContext) {
  return withRole(ctx.hosts, 'etcd');
}

/** What the config steps read on a member: its own data, and the member list of any cluster that answers. */
export interface ConfigFacts {
  etcdMember: boolean;
  etcdPeers: EtcdMemberList | null;
  /** /etc/default/etcd as it is on the host ('' when absent). */
  etcdDefault: string;
}

/** The lines etcd reads only to bootstrap an empty data dir: a formed member ignores them. */
const BOOTSTRAP_ONLY = /^ETCD_INITIAL_CLUSTER(_STATE)?=.*$/gm;

/** Whether two versions of /etc/default/etcd differ in more than the bootstrap-only lines. */
export function differsBeyondBootstrap(a: string, b: string): boolean {
  return a.replace(BOOTSTRAP_ONLY, '').trimEnd() !== b.replace(BOOTSTRAP_ONLY, '').trimEnd();
}

/** The URLs of /etc/default/etcd in each phase (see ./tls.ts): prep keeps the plain URLs, secure has https only. */
export function etcdUrls(ctx: StepContext, phase: EtcdPhase) {
  const s = etcdSettings(ctx.inventory, ctx.host);
  const a = ctx.host.address;
  const scheme = phase === 'secure' ? 'https' : 'http';
  const listen =
    phase === 'secure'
      ? `https://${a}:${s.etcdClientPort}`
      : `http://${a}:${s.etcdClientPort},http://127.0.0.1:${s.etcdClientPort}`;
  return {
    peer_url: peerUrl(ctx.inventory, ctx.host, scheme),
    listen_client_urls: listen,
    advertise_client_url: `${scheme}://${a}:${s.etcdClientPort}`,
    metrics_url: `http://${a}:${s.etcdMetricsPort}`,
  };
}

/**
 * /etc/default/etcd for this host. `existing` once this member has data or a cluster already answers. `phase`
 * forces a phase (the secure step); by default it follows tls_enabled and what the member runs now.
 */
export function etcdConfigFile(
  ctx: StepContext,
  facts: Partial<ConfigFacts>,
  restartOnChange: boolean,
  phase?: EtcdPhase,
): FileResource {
  const s = etcdSettings(ctx.inventory, ctx.host);
  const formed = facts.etcdMember === true;
  const peers = facts.etcdPeers ?? null;
  const clusterAnswers = peers !== null && peers.members.length > 0;
  const tls = etcdTls(ctx.inventory, ctx.host);
  const problem = inPlaceProblem(tls, formed, facts.etcdDefault ?? '');
  if (problem)
    throw new UserError(
      `${ctx.host.name}: ${problem}`,
      'keep tls_enabled: true for this cluster (or rebuild it without TLS: pgha destroy, then pgha up)',
      { file: ctx.inventory.file, field: 'vars.tls_enabled' },
    );
  const ph = phase ?? etcdPhase(tls, formed, facts.etcdDefault ?? '');
  // New members are added with the peer scheme of the phase this run gives formed members.
  const initialCluster = members(ctx)
    .map((h) => `${h.name}=${peerUrl(ctx.inventory, h, ph === 'secure' ? 'https' : 'http')}`)
    .join(',');
  const content = ctx.render('etcd/etcd.default.hbs', {
    name: ctx.host.name,
    data_dir: s.etcdDataDir,
    ...etcdUrls(ctx, ph),
    phase: ph,
    tls: ph === 'plain' ? undefined : tlsPaths(ETCD_TLS_DIR),
    initial_cluster: initialCluster,
    initial_cluster_state: formed || clusterAnswers ? 'existing' : 'new',
    token: s.etcdToken,
    heartbeat: s.etcdHeartbeat,
    election: s.etcdElection,
  });
  const file: FileResource = { kind: 'file', path: ETCD_DEFAULT_FILE, content, mode: '0644' };
  // A formed member restarts on a config change (rolling: the config step is serial). Before the cluster
  // exists nothing restarts here: the start step starts every member together. A change of the member list
  // alone (a member added or removed) touches only bootstrap lines, which a formed member ignores: no restart.
  const onlyBootstrap = facts.etcdDefault !== undefined && !differsBeyondBootstrap(facts.etcdDefault, content);
  if (restartOnChange && formed && !onlyBootstrap) file.notify = [{ service: 'etcd', action: 'restart' }];
  return file;
}

export function configFacts(ctx: StepContext): FactSpecs<ConfigFacts> {
  const s = etcdSettings(ctx.inventory, ctx.host);
  return {
    etcdMember: memberDataFact(s.etcdDataDir),
    etcdPeers: peersFact(membersClient(ctx.inventory, ctx.host, members(ctx))),
    etcdDefault: { script: `cat ${ETCD_DEFAULT_FILE} 2>/dev/null || true`, parse: (out) => out },
  };
}

/** A formed member restarts when its certificates change; before the cluster exists the start step starts it. */
function restartIfFormed(facts: Partial<ConfigFacts>) {
  return facts.etcdMember === true ? [{ service: 'etcd', action: 'restart' as const }] : undefined;
}

const install = defineStep({
  id: 'etcd.install',
  title: 'Install etcd without letting the package start it',
  facts: () => ({ etcdInstalled: installedFact('etcd-server') }),
  resources(ctx, facts) {
    const s = etcdSettings(ctx.inventory, ctx.host);
    const out: Resource[] = [];
    if (facts.etcdInstalled !== true) {
      out.push({ kind: 'file', path: POLICY_RC_D, content: ctx.render('etcd/policy-rc.d.hbs', {}), mode: '0755' });
    }
    out.push({ kind: 'packages', names: ['etcd-server', 'etcd-client'] });
    out.push({ kind: 'directory', path: s.etcdDataDir, owner: 'etcd', group: 'etcd', mode: '0700' });
    return out;
  },
});

const config = defineStep({
  id: 'etcd.config',
  title: 'Configure etcd members (rolling restart of formed members on change)',
  serial: true,
  facts: configFacts,
  before: reconcileMembers,
  resources: (ctx, facts) => [
    // Here, not in the install step: guards are probed before a step applies, so the install step would
    // still see no policy-rc.d. Only pgha's own file is removed.
    {
      kind: 'command',
      label: `remove pgha's ${POLICY_RC_D}`,
      argv: ['rm', '-f', POLICY_RC_D],
      unless: `! grep -qs pgha-etcd ${POLICY_RC_D}`,
    },
    // The certificates (tls_enabled): one issued again (expiring, another CA or address) restarts this member,
    // one member at a time like any change here, each healthy before the next.
    ...(etcdTls(ctx.inventory, ctx.host)
      ? tlsFiles(ctx, { dir: ETCD_TLS_DIR, owner: 'etcd', notify: restartIfFormed(facts) })
      : []),
    etcdConfigFile(ctx, facts, true),
  ],
  // Only a running, formed member is checked here (rolling restarts); the start step checks the rest.
  verify: (ctx, t) => verifyFormedMember(ctx, t),
  reads: formedMemberReads,
  groupReads: memberProbeReads,
});

const start = defineStep({
  id: 'etcd.start',
  title: 'Start etcd on every member together',
  facts: (ctx) => ({ etcdMember: memberDataFact(etcdSettings(ctx.inventory, ctx.host).etcdDataDir) }),
  resources(ctx, facts) {
    const s = etcdSettings(ctx.inventory, ctx.host);
    if (facts.etcdMember === true) return [{ kind: 'service', name: 'etcd', enabled: true, state: 'started' }];
    // Not formed here yet: (re)start without waiting, on every member at once. With Type=notify a blocking
    // start would wait for a quorum that only the other members' starts can bring.
    return [
      {
        kind: 'command',
        label: 'start etcd with the cluster configuration (no wait for quorum)',
        script: 'systemctl reset-failed etcd >/dev/null 2>&1 || true\nsystemctl restart --no-block etcd',
        unless: `test -d ${s.etcdDataDir}/member`,
      },
      { kind: 'service', name: 'etcd', enabled: true },
    ];
  },
  verify: (ctx, t) => verifyLocalMember(ctx, t, 120_000),
  verifyGroup: (ctx) => verifyEtcdCluster(ctx, 60_000),
  reads: (ctx) => [localHealthScript(ctx)],
  groupReads: agreementReads,
});

const finalize = defineStep({
  id: 'etcd.finalize',
  title: 'Mark formed members as existing (no restart)',
  facts: configFacts,
  resources: (ctx, facts) => [etcdConfigFile(ctx, facts, false)],
});

export const etcdSteps: Step[] = [install, config, start, finalize];

export const etcd: Component = { name: 'etcd', steps: etcdSteps };
