// pgBackRest on the postgres hosts and the repository host (role backup), in TLS server mode: every host runs
// `pgbackrest server` (pgbackrest-server.service) with a certificate from the inventory's CA; the repository host
// takes backups from the members, the members push WAL to it. Nothing runs when no host has the role backup.
import type { Component, Resource, Step, StepContext } from '../../engine/types.js';
import type { Host } from '../../inventory/types.js';
import { withRole } from '../common.js';
import { patroniSettings } from '../patroni/settings.js';
import { tlsFiles, tlsPaths } from '../tls/files.js';
import {
  BACKUP_ROLE,
  PGBACKREST_CONF,
  PGBACKREST_TLS_DIR,
  PGBACKREST_UNIT,
  REPO_USER,
  backupSettings,
  repoHost,
} from './settings.js';
import { firstBackupScript, hasBackupScript, stanzaReadyScript, pgbackrest } from './scripts.js';
import { verifyBackups, verifyServer, backupReads, serverScript } from './checks.js';

export const BACKUP_TYPES = ['full', 'diff', 'incr'] as const;
export type BackupType = (typeof BACKUP_TYPES)[number];

/** The host's part in backups: the repository, a member, or none (backups off, or another role). */
export function partOf(ctx: Pick<StepContext, 'inventory' | 'host'>): 'repo' | 'member' | undefined {
  if (!repoHost(ctx.inventory)) return undefined;
  if (ctx.host.roles.includes(BACKUP_ROLE)) return 'repo';
  return ctx.host.roles.includes('postgres') ? 'member' : undefined;
}

/** The user pgBackRest runs as on this host. */
export function serviceUser(part: 'repo' | 'member'): string {
  return part === 'repo' ? REPO_USER : 'postgres';
}

export function pgbackrestConfig(ctx: StepContext): string {
  const s = backupSettings(ctx.inventory);
  const tls = tlsPaths(PGBACKREST_TLS_DIR);
  const common = { stanza: s.stanza, port: s.tlsPort, tls, compress_type: s.compressType };
  if (partOf(ctx) === 'repo') {
    const members = withRole(ctx.inventory.hosts, 'postgres');
    return ctx.render('backup/pgbackrest-repo.conf.hbs', {
      ...common,
      repo_path: s.repoPath,
      retention_full: s.retentionFull,
      retention_diff: s.retentionDiff,
      clients: members.map((h) => h.name),
      members: members.map((h: Host, i) => {
        const p = patroniSettings(ctx.inventory, h);
        return { index: i + 1, address: h.address, data_dir: p.pgDataDir, pg_port: p.pgPort };
      }),
    });
  }
  const repo = repoHost(ctx.inventory)!;
  const p = patroniSettings(ctx.inventory, ctx.host);
  return ctx.render('backup/pgbackrest-pg.conf.hbs', {
    ...common,
    repo_name: repo.name,
    repo_address: repo.address,
    data_dir: p.pgDataDir,
    pg_port: p.pgPort,
  });
}

const install: Step = {
  id: 'backup.install',
  title: 'Install pgBackRest (repository host and postgres hosts)',
  resources(ctx) {
    const part = partOf(ctx);
    if (!part) return [];
    const user = serviceUser(part);
    const s = backupSettings(ctx.inventory);
    const out: Resource[] = [{ kind: 'packages', names: ['pgbackrest'] }];
    if (part === 'repo') {
      out.push({
        kind: 'command',
        label: `create the system user ${REPO_USER}`,
        argv: ['useradd', '--system', '--user-group', '--home-dir', s.repoPath, '--shell', '/bin/sh', REPO_USER],
        unless: `id -u ${REPO_USER}`,
      });
      out.push({ kind: 'directory', path: s.repoPath, owner: user, group: user, mode: '0750' });
    }
    for (const path of ['/var/log/pgbackrest', '/var/spool/pgbackrest'])
      out.push({ kind: 'directory', path, owner: user, group: user, mode: '0750' });
    out.push({ kind: 'directory', path: '/etc/pgbackrest', owner: 'root', group: 'root', mode: '0755' });
    out.push({ kind: 'directory', path: PGBACKREST_TLS_DIR, owner: 'root', group: 'root', mode: '0755' });
    return out;
  },
};

const config: Step = {
  id: 'backup.config',
  title: "Configure pgBackRest and run its TLS server (certificates from the inventory's CA)",
  resources(ctx) {
    const part = partOf(ctx);
    // Backups off (no host has the role backup): a member's TLS server from an earlier run is stopped and disabled
    // (pgBackRest stays installed); on a host that never had it this changes nothing.
    if (!part)
      return ctx.host.roles.includes('postgres')
        ? [{ kind: 'service', name: PGBACKREST_UNIT, enabled: false, state: 'stopped' }]
        : [];
    const user = serviceUser(part);
    const restart = [{ service: PGBACKREST_UNIT, action: 'restart' as const }];
    return [
      ...tlsFiles(ctx, { dir: PGBACKREST_TLS_DIR, owner: user, notify: restart }),
      { kind: 'file', path: PGBACKREST_CONF, content: pgbackrestConfig(ctx), mode: '0644', notify: restart },
      {
        kind: 'file',
        path: `/etc/systemd/system/${PGBACKREST_UNIT}.service`,
        content: ctx.render('backup/pgbackrest-server.service.hbs', { user, config: PGBACKREST_CONF }),
        notify: restart,
      },
      { kind: 'service', name: PGBACKREST_UNIT, enabled: true, state: 'started' },
    ];
  },
  verify: (ctx, t) => (partOf(ctx) ? verifyServer(ctx, t, 20_000) : Promise.resolve()),
  reads: (ctx) => (partOf(ctx) ? [serverScript(ctx)] : []),
};

const stanza: Step = {
  id: 'backup.stanza',
  title: 'Create the stanza once, take the first full backup, check archiving (repository host)',
  needs: ['patroni'], // the leader archives WAL and is backed up
  resources(ctx) {
    if (partOf(ctx) !== 'repo') return [];
    const s = backupSettings(ctx.inventory);
    return [
      {
        kind: 'command',
        label: `pgbackrest stanza-create (stanza ${s.stanza})`,
        script: pgbackrest(REPO_USER, s.stanza, 'stanza-create'),
        unless: stanzaReadyScript(s.stanza),
        timeoutMs: 300_000,
      },
      {
        kind: 'command',
        label: 'first full backup (the repository has none)',
        script: firstBackupScript(s.stanza),
        unless: hasBackupScript(s.stanza),
        timeoutMs: 6 * 3600_000,
      },
    ];
  },
  verifyGroup: async (ctx) => {
    if (repoHost(ctx.inventory) && ctx.hosts.some((h) => h.roles.includes(BACKUP_ROLE)))
      await verifyBackups(ctx, { timeoutMs: 120_000 });
  },
  groupReads: (ctx) => (ctx.hosts.some((h) => h.roles.includes(BACKUP_ROLE)) ? backupReads(ctx) : []),
};

const schedule: Step = {
  id: 'backup.schedule',
  title: 'Schedule the backups (systemd timers on the repository host)',
  resources(ctx) {
    if (partOf(ctx) !== 'repo') return [];
    const s = backupSettings(ctx.inventory);
    const when: Record<BackupType, string> = { full: s.fullSchedule, diff: s.diffSchedule, incr: s.incrSchedule };
    const out: Resource[] = [];
    for (const type of BACKUP_TYPES) {
      const vars = { type, stanza: s.stanza, user: REPO_USER, config: PGBACKREST_CONF, schedule: when[type] };
      out.push({
        kind: 'file',
        path: `/etc/systemd/system/pgbackrest-${type}.service`,
        content: ctx.render('backup/pgbackrest-backup.service.hbs', vars),
      });
      if (when[type].trim() === '') {
        out.push({ kind: 'service', name: `pgbackrest-${type}.timer`, enabled: false, state: 'stopped' });
        continue;
      }
      out.push({
        kind: 'file',
        path: `/etc/systemd/system/pgbackrest-${type}.timer`,
        content: ctx.render('backup/pgbackrest-backup.timer.hbs', vars),
        notify: [{ service: `pgbackrest-${type}.timer`, action: 'restart' }],
      });
      out.push({ kind: 'service', name: `pgbackrest-${type}.timer`, enabled: true, state: 'started' });
    }
    return out;
  },
};

export const backupSteps: Step[] = [install, config, stanza, schedule];

export const backup: Component = { name: 'backup', steps: backupSteps };
