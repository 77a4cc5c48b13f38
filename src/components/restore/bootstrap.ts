// The Patroni configuration a restore and a rebuild from the repository run with, for as long as they run: the
// member's normal config.yml (as `pgha up` renders it) with
//  - for a restore, bootstrap.method `pgbackrest`: a command that runs `pgbackrest restore` into the empty data
//    directory, and recovery_conf with restore_command (archive-get), the target and recovery_target_action promote;
//  - for `reinit --from-backup`, create_replica_methods [pgbackrest, basebackup] and a restore_command so the new
//    replica replays the archive up to where streaming from the leader takes over.
// Afterwards the normal file is written back, so `pgha up` finds nothing to change.
import { parseDocument } from 'yaml';
import { shq } from '../../engine/quote.js';
import { pgbackrestCmd, type Pgbackrest } from './pgbackrest.js';
import type { RestorePlan } from './target.js';

export const BOOTSTRAP_METHOD = 'pgbackrest';

type Repo = Pick<Pgbackrest, 'stanza' | 'config'>;

/** restore_command: PostgreSQL fetches WAL from the repository. */
export function restoreCommand(p: Repo): string {
  return `${pgbackrestCmd(p, ['archive-get'])} %f "%p"`;
}

/** The pgbackrest restore arguments for the plan: which backup set, and up to where its own recovery goes. */
export function restoreArgs(plan: RestorePlan): string[] {
  const t = plan.target;
  if (t.kind === 'latest') return ['restore', `--set=${plan.backup.label}`, '--type=default'];
  if (t.kind === 'label') return ['restore', `--set=${t.label}`, '--type=immediate'];
  return ['restore', `--set=${plan.backup.label}`, '--type=time', `--target=${t.text}`];
}

/** The recovery settings Patroni writes before it starts the restored member (PostgreSQL 12+: parameters). */
export function recoveryConf(p: Repo, plan: RestorePlan): Record<string, string> {
  const t = plan.target;
  const target: Record<string, string> =
    t.kind === 'time'
      ? { recovery_target_time: t.text, recovery_target_inclusive: 'true' }
      : t.kind === 'label'
        ? { recovery_target: 'immediate' }
        : {};
  return {
    restore_command: restoreCommand(p),
    ...target,
    recovery_target_action: 'promote',
    recovery_target_timeline: 'latest',
  };
}

/** The shell program Patroni runs as the bootstrap command (as postgres; Patroni adds no parameters). */
export function bootstrapCommand(p: Repo, dataDir: string, plan: RestorePlan): string {
  const program = `mkdir -p ${shq(dataDir)} && chmod 0700 ${shq(dataDir)} && exec ${pgbackrestCmd(p, [
    `--pg1-path=${dataDir}`,
    ...restoreArgs(plan),
  ])}`;
  return `/bin/sh -c ${shq(program)}`;
}

function edit(configYaml: string, f: (doc: ReturnType<typeof parseDocument>) => void): string {
  const doc = parseDocument(configYaml, { version: '1.1' });
  if (doc.errors.length) throw new Error(`Patroni config: ${doc.errors[0]!.message}`);
  f(doc);
  return doc.toString({ lineWidth: 0 });
}

/** config.yml with bootstrap.method pgbackrest: the first member of a restored cluster runs it. */
export function withRestoreBootstrap(configYaml: string, p: Repo, dataDir: string, plan: RestorePlan): string {
  return edit(configYaml, (doc) => {
    doc.setIn(['bootstrap', 'method'], BOOTSTRAP_METHOD);
    doc.setIn(['bootstrap', BOOTSTRAP_METHOD], {
      command: bootstrapCommand(p, dataDir, plan),
      no_params: true,
      keep_existing_recovery_conf: false,
      recovery_conf: recoveryConf(p, plan),
    });
  });
}

/** config.yml whose replicas are created from the repository first, from the leader when that fails. */
export function withBackupReplicaMethod(configYaml: string, p: Repo, dataDir: string): string {
  const program = `mkdir -p ${shq(dataDir)} && chmod 0700 ${shq(dataDir)} && exec ${pgbackrestCmd(p, [
    `--pg1-path=${dataDir}`,
    'restore',
    '--type=standby',
  ])}`;
  return edit(configYaml, (doc) => {
    doc.setIn(['postgresql', 'create_replica_methods'], [BOOTSTRAP_METHOD, 'basebackup']);
    doc.setIn(['postgresql', BOOTSTRAP_METHOD], { command: `/bin/sh -c ${shq(program)}`, no_params: true });
    doc.setIn(['postgresql', 'recovery_conf'], { restore_command: restoreCommand(p) });
  });
}
