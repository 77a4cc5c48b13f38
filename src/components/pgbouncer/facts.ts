// What the PgBouncer steps read from a member: the Patroni role it has now (the auth step runs on the leader) and
// PgBouncer's current config (a change of a setting PgBouncer reads only at start is a restart, else a reload).
import type { FactSpec } from '../../engine/types.js';
import { obj, parseHttpResponse } from '../common.js';
import { PGBOUNCER_INI } from './config.js';
import { apiGetScript, type PatroniApi } from '../patroni/api.js';

/** The member's role from its own GET /patroni ("master" or "primary" for the leader), '' when it does not answer. */
export function patroniRoleFact(api: PatroniApi): FactSpec<string> {
  return {
    script: `${apiGetScript(api, '/patroni')} 2>/dev/null || true`,
    parse(stdout) {
      const r = parseHttpResponse(stdout);
      if (r.status !== 200) return '';
      try {
        const o = obj(JSON.parse(r.body));
        return o.state === 'running' ? String(o.role ?? '') : '';
      } catch {
        return '';
      }
    },
  };
}

export const LEADER_ROLE_NAMES = ['master', 'primary'];

/** The current pgbouncer.ini, base64 on one line so that the probe's line protocol is not disturbed; undefined when absent. */
export const iniFact: FactSpec<string | undefined> = {
  script: `if [ -f ${PGBOUNCER_INI} ]; then echo "ini $(base64 -w0 < ${PGBOUNCER_INI})"; else echo "ini -"; fi`,
  parse(stdout) {
    const line = stdout.split('\n').find((l) => l.startsWith('ini '));
    if (!line || line === 'ini -') return undefined;
    return Buffer.from(line.slice(4).trim(), 'base64').toString('utf8');
  },
};
