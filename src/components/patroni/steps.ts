// PostgreSQL + Patroni on role postgres. Patroni bootstraps the cluster itself: every member starts at
// once, the first to take the DCS initialize key runs initdb, the others wait and clone from it.
import { apiMemberReads, clusterReads, memberCheckReads } from './reads.js';
import { stringify } from 'yaml';
import type { Component, FileResource, Resource, Step, StepContext } from '../../engine/types.js';
import { clusterParameters, localParameters, patroniSettings, type PatroniSettings } from './settings.js';
import type { MapValue } from '../../inventory/catalog.js';
import { etcdSettings } from '../etcd/settings.js';
import { recoveryConf } from '../backup/settings.js';
import { secret } from '../secrets.js';
import { python3, renderProgram, withRole } from '../common.js';
import { verifyMemberRunning, verifyPatroniCluster } from './checks.js';
import { restartStep, restAuthInput, restAuthLines } from './restart.js';
import { PATRONI_CONFIG, reinitStuckReplica, repairIfStuck } from './stuck.js';
import { chooseApiMember, isApiMember } from './api-member.js';
import { apiClientLines, PATRONI_TLS_DIR, patroniApi, type PatroniApi } from './api.js';
import { tlsFiles, tlsPaths } from '../tls/files.js';
import { tlsEnabled } from '../tls/settings.js';
import { makeTlsSwitchStep } from './tls-switch.js';
import { patroniEtcdTls, patroniEtcdTlsFiles } from '../etcd/tls.js';
import { hbaLines } from '../access/hba.js';
import { accessSettings } from '../access/settings.js';
import { pgbouncerSettings } from '../pgbouncer/settings.js';

export const CREATECLUSTER_DROPIN = '/etc/postgresql-common/createcluster.d/00-pgha.conf';
export { PATRONI_CONFIG };

/**
 * `patroni --validate-config` (3.0.2) also tries to bind the listen ports and to connect to every etcd host. On a
 * running member its own ports are taken by Patroni itself, so exactly that complaint is ignored. An etcd host
 * that does not answer ("etcd3.hosts.N HOST:PORT didn't pass validation: 'HOST:PORT is not reachable'") is no
 * reason to refuse the file while another one answers: one member down must not block a configuration change.
 * When none of the `etcdHosts` answers, the complaints stay. Every other finding fails the validation.
 */
export function patroniValidate(etcdHosts: number): string {
  const down = '"^etcd3\\.hosts\\.[0-9]* .* is not reachable"';
  const script = [
    'out=$(patroni --validate-config "$1" 2>&1) && exit 0',
    'rest=$(echo "$out" | grep -v "is already in use")',
    `if [ "$(echo "$rest" | grep -c ${down})" -lt "$2" ]; then rest=$(echo "$rest" | grep -v ${down}); fi`,
    'if [ -n "$rest" ]; then echo "$rest"; exit 1; fi',
  ].join('; ');
  return `sh -c '${script}' pgha-validate %s ${etcdHosts}`;
}

/**
 * The settings Patroni keeps in the DCS: rendered into bootstrap.dcs, later kept equal with PATCH /config. The
 * parameters are the cluster-wide ones (clusterParameters): the same whichever member applies them.
 */
export function dcsConfig(
  s: PatroniSettings,
  parameters: Record<string, MapValue>,
  recoveryConf?: Record<string, string | null>,
): Record<string, unknown> {
  return {
    ttl: s.ttl,
    loop_wait: s.loopWait,
    retry_timeout: s.retryTimeout,
    maximum_lag_on_failover: s.maxLagOnFailover,
    synchronous_mode: s.synchronousMode,
    synchronous_mode_strict: s.synchronousModeStrict,
    synchronous_node_count: s.synchronousNodeCount,
    postgresql: {
      use_pg_rewind: true,
      use_slots: true,
      parameters,
      // With backups: replicas fetch WAL they miss from the repository (restore_command).
      ...(recoveryConf ? { recovery_conf: recoveryConf } : {}),
    },
  };
}

/**
 * pg_hba: the superuser from local sockets and the cluster's own hosts, replication and rewind between members,
 * the inventory's rules, and each application user to its own databases (../access/hba.ts).
 */
export function pgHba(
  ctx: Pick<StepContext, 'hosts' | 'inventory' | 'host'>,
  s: PatroniSettings,
  tlsOverride?: boolean,
): string[] {
  const pgb = pgbouncerSettings(ctx.inventory, ctx.host);
  const tls = tlsOverride ?? tlsEnabled(ctx.inventory, ctx.host);
  const lines = hbaLines({
    hosts: ctx.hosts,
    subnet: ctx.inventory.subnet,
    superuser: s.superuser,
    replicationUser: s.replicationUser,
    rewindUser: s.rewindUser,
    ...(pgb.enabled ? { pgbouncerAuthUser: pgb.authUser } : {}),
    access: accessSettings(ctx.inventory, ctx.host),
  });
  return lines.map((l) => hostssl(l, tls));
}

/**
 * With TLS, a rule for connections from other hosts (`host`) becomes `hostssl`: PostgreSQL refuses them without
 * TLS. Unix sockets (`local`) and loopback (127.0.0.0/8, ::1: the host's own PgBouncer and tools) stay as they are.
 */
export function hostssl(line: string, tls: boolean): string {
  if (!tls || !line.startsWith('host ')) return line;
  const address = line.split(/\s+/)[3] ?? '';
  return address.startsWith('127.') || address.startsWith('::1/') ? line : `hostssl ${line.slice('host '.length)}`;
}

/** PostgreSQL's TLS parameters (ssl on, the member's certificate, key and CA), or none without TLS. */
export function sslParameters(tls: boolean): Record<string, string> {
  if (!tls) return {};
  const p = tlsPaths(PATRONI_TLS_DIR);
  return { ssl: 'on', ssl_cert_file: p.cert, ssl_key_file: p.key, ssl_ca_file: p.ca };
}

function indent(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return text
    .trimEnd()
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
}

/**
 * Patroni's config.yml. `restTls` overrides whether the REST API and PostgreSQL use TLS (the inventory's
 * tls_enabled otherwise): the switch of Patroni to etcd over https keeps them as they are on the host, and their
 * own switch (patroni.tls, with HAProxy's checks) moves them afterwards.
 */
export function patroniConfigFile(ctx: StepContext, o: { restTls?: boolean } = {}): FileResource {
  const s = patroniSettings(ctx.inventory, ctx.host);
  const tls = o.restTls ?? tlsEnabled(ctx.inventory, ctx.host);
  const q = (v: string) => JSON.stringify(v);
  const etcdHosts = withRole(ctx.hosts, 'etcd').map(
    (h) => `${h.address}:${etcdSettings(ctx.inventory, h).etcdClientPort}`,
  );
  const content = ctx.render('patroni/config.yml.hbs', {
    scope: q(s.scope),
    namespace: q(s.namespace),
    name: q(ctx.host.name),
    address: ctx.host.address,
    api_port: s.apiPort,
    // Replication and rewind ask for TLS when the server offers it (every member does once it is switched).
    tls: tls ? { ...tlsPaths(PATRONI_TLS_DIR), sslmode: 'prefer' } : false,
    api_user: q(s.apiUser),
    api_password: q(secret(ctx, 'patroni_api_password')),
    etcd_hosts: etcdHosts,
    etcd_tls: patroniEtcdTls(ctx.inventory, ctx.host),
    // YAML 1.1 output quotes on/off/yes/no: Patroni's PyYAML would read them as booleans.
    dcs_yaml: indent(
      stringify(dcsConfig(s, clusterParameters(ctx.inventory, ctx.host), recoveryConf(ctx.inventory)), {
        version: '1.1',
      }),
      4,
    ),
    // This host's own parameters (its groups' and its vars'), over the DCS ones.
    parameters_yaml: indent(
      stringify(
        {
          unix_socket_directories: '/var/run/postgresql',
          ...sslParameters(tls),
          ...localParameters(ctx.inventory, ctx.host),
        },
        { version: '1.1' },
      ),
      4,
    ),
    pg_port: s.pgPort,
    data_dir: q(s.pgDataDir),
    bin_dir: q(s.pgBinDir),
    pgpass: q('/var/lib/postgresql/.pgpass_patroni'),
    superuser: q(s.superuser),
    superuser_password: q(secret(ctx, 'postgres_superuser_password')),
    replication_user: q(s.replicationUser),
    replication_password: q(secret(ctx, 'replication_password')),
    rewind_user: q(s.rewindUser),
    rewind_password: q(secret(ctx, 'rewind_password')),
    pg_hba: pgHba(ctx, s, tls).map(q),
  });
  return {
    kind: 'file',
    path: PATRONI_CONFIG,
    content,
    owner: 'postgres',
    group: 'postgres',
    mode: '0600',
    secret: true,
    validate: patroniValidate(etcdHosts.length),
    notify: [{ service: 'patroni', action: 'reload' }],
  };
}

/**
 * Python run on a member: compares the desired DCS settings with GET /config and prints the differences (exit 0
 * when there are none), or with `patch` PATCHes those differences (credentials on stdin, never on a command
 * line). postgresql.parameters is the whole map: a parameter the DCS holds beyond it is removed (null).
 */
export function configScript(api: PatroniApi, desired: Record<string, unknown>, patch: boolean): string {
  const vars = {
    want: JSON.stringify(desired),
    api_client: apiClientLines(api),
    patch,
    rest_auth: patch ? restAuthLines() : '',
  };
  return python3(renderProgram('patroni/dcs-config.py.hbs', vars));
}

const install: Step = {
  id: 'patroni.install',
  title: 'Install PostgreSQL and Patroni (no distro "main" cluster)',
  resources(ctx) {
    const s = patroniSettings(ctx.inventory, ctx.host);
    const v = s.pgVersion;
    const mainConf = `/etc/postgresql/${v}/main/postgresql.conf`;
    return [
      // Before postgresql-NN's postinst runs: it would create and start `main` otherwise.
      { kind: 'file', path: CREATECLUSTER_DROPIN, content: ctx.render('patroni/createcluster.conf.hbs', {}) },
      { kind: 'packages', names: [`postgresql-${v}`, `postgresql-client-${v}`, 'patroni', 'python3-etcd'] },
      {
        kind: 'command',
        label: `drop the distro cluster ${v}/main (Patroni owns PostgreSQL here)`,
        argv: ['pg_dropcluster', '--stop', String(v), 'main'],
        unless: `! test -e ${mainConf}`,
      },
      { kind: 'directory', path: `/var/lib/postgresql/${v}`, owner: 'postgres', group: 'postgres', mode: '0755' },
    ] satisfies Resource[];
  },
};

const config: Step = {
  id: 'patroni.config',
  title: 'Configure and start Patroni (one member initializes, the others clone)',
  // A formed etcd (on whatever hosts it runs), and pgBackRest configured everywhere: replicas run its restore_command.
  needs: ['etcd', 'backup.config'],
  resources: (ctx) => [
    // The member's certificate for the REST API and PostgreSQL: a new one (renewal) is taken up with a reload.
    ...(tlsEnabled(ctx.inventory, ctx.host)
      ? tlsFiles(ctx, { dir: PATRONI_TLS_DIR, owner: 'postgres', notify: [{ service: 'patroni', action: 'reload' }] })
      : []),
    patroniConfigFile(ctx),
    ...patroniEtcdTlsFiles(ctx), // before Patroni starts; a reload does not reconnect to etcd (etcd.patroni-dcs)
    { kind: 'service', name: 'patroni', enabled: true, state: 'started' },
    reinitStuckReplica(ctx),
  ],
  async verify(ctx, t) {
    await verifyMemberRunning(ctx, t, 180_000);
    await repairIfStuck(ctx, t);
  },
  verifyGroup: async (ctx) => {
    await verifyPatroniCluster(ctx, 120_000);
  },
  reads: memberCheckReads,
  groupReads: clusterReads,
};

const dcs: Step = {
  id: 'patroni.dcs',
  title: 'Keep the DCS settings (ttl, loop_wait, parameters, ...) as in the inventory',
  wholeCluster: 'PATCH /config changes the DCS settings and cluster-wide parameters of every member',
  needs: ['etcd'],
  // Cluster-wide: one member applies it, the first whose REST API answers (chosen once per run, before planning).
  before: async (ctx) => void (await chooseApiMember(ctx, 'PATCH /config')),
  groupReads: apiMemberReads,
  resources(ctx) {
    if (!isApiMember(ctx.inventory, ctx.hosts, ctx.host)) return [];
    const s = patroniSettings(ctx.inventory, ctx.host);
    // Without backups, a restore_command pgha set earlier leaves the DCS (null: removed when present).
    const desired = dcsConfig(
      s,
      clusterParameters(ctx.inventory, ctx.host),
      recoveryConf(ctx.inventory) ?? { restore_command: null },
    );
    return [
      {
        kind: 'command',
        label: 'PATCH /config with the DCS settings',
        script: configScript(patroniApi(ctx.inventory, ctx.host), desired, true),
        ...restAuthInput(ctx),
        unless: configScript(patroniApi(ctx.inventory, ctx.host), desired, false),
        explain: true, // plan names what changes: the same program compares for plan and for apply
      },
    ];
  },
};

export const patroniSteps: Step[] = [install, makeTlsSwitchStep(), config, dcs, restartStep];

export const patroni: Component = { name: 'patroni', steps: patroniSteps };
