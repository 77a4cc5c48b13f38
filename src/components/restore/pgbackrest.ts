// Where pgBackRest lives on the hosts, as the backup component sets it up (docs/backup.md): the stanza, its
// configuration file, the repository host and the user that runs it there, and the commands built from them.
import type { Host, Inventory } from '../../inventory/types.js';
import { argvToShell } from '../../engine/quote.js';
import { UserError } from '../../util/errors.js';
import { BACKUP_ROLE, PGBACKREST_CONF, REPO_USER, backupSettings, repoHost } from '../backup/settings.js';

export interface Pgbackrest {
  stanza: string;
  config: string;
  /** The repository host (role backup). */
  repo: Host;
  /** The user that runs pgbackrest on the repository host. */
  repoUser: string;
}

/** The repository as the inventory describes it; a UserError when no host has the backup role. */
export function pgbackrestOf(inv: Inventory, command: string): Pgbackrest {
  const repo = repoHost(inv);
  if (!repo)
    throw new UserError(
      `${command} needs a pgBackRest repository, and no host of ${inv.file} has the role ${BACKUP_ROLE}`,
      `add a host with roles: [${BACKUP_ROLE}], run pgha up, then take a backup (pgha backup --type full)`,
    );
  return { stanza: backupSettings(inv).stanza, config: PGBACKREST_CONF, repo, repoUser: REPO_USER };
}

/** `pgbackrest --config=.. --stanza=.. ARGS` as a shell word list (run as `user` when given). */
export function pgbackrestCmd(p: Pick<Pgbackrest, 'stanza' | 'config'>, args: string[], user?: string): string {
  const argv = ['pgbackrest', `--config=${p.config}`, `--stanza=${p.stanza}`, ...args];
  return (user ? `runuser -u ${user} -- ` : '') + argvToShell(argv);
}
