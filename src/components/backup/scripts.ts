// Shell snippets that run pgBackRest on a host as its service user, and the read-only tests that guard the
// stanza's creation and the first backup.
import { shq } from '../../engine/quote.js';
import { python3, renderProgram } from '../common.js';
import { PGBACKREST_CONF } from './settings.js';

/** `pgbackrest --stanza=S ARGS` as `user` (the repository host's pgbackrest, or postgres on a member). */
export function pgbackrest(user: string, stanza: string, args: string): string {
  return `runuser -u ${shq(user)} -- pgbackrest --config=${PGBACKREST_CONF} --stanza=${shq(stanza)} ${args}`;
}

/** Exit 0 when `pgbackrest info --output=json` (on stdin) shows the stanza with a status in `codes`. */
function infoStatusIs(codes: number[], needBackup: boolean): string {
  return python3(renderProgram('backup/info-status.py.hbs', { codes: JSON.stringify(codes), need_backup: needBackup }));
}

/** The stanza exists in the repository (status ok, or no backup yet). */
export function stanzaReadyScript(stanza: string, user = 'pgbackrest'): string {
  return `${pgbackrest(user, stanza, '--output=json info')} 2>/dev/null | ${infoStatusIs([0, 2], false)}`;
}

/** The repository holds at least one backup of the stanza. */
export function hasBackupScript(stanza: string, user = 'pgbackrest'): string {
  return `${pgbackrest(user, stanza, '--output=json info')} 2>/dev/null | ${infoStatusIs([0], true)}`;
}

export function firstBackupScript(stanza: string, user = 'pgbackrest'): string {
  return pgbackrest(user, stanza, '--type=full --log-level-console=warn backup');
}
