// pgha rotate-secrets [NAME...]: new values for cluster secrets (all of them, or the named ones), saved in the
// secrets file at once, then the rotate-secrets playbook: PostgreSQL's roles get the new passwords on the leader
// first (the running replication and rewind connections are not touched by ALTER ROLE), then each member's
// patroni.yml is rewritten and reloaded one member at a time, PgBouncer, HAProxy and keepalived follow, and the
// cluster is verified through the VIP.
import type { GlobalOptions } from '../session.js';
import type { Out } from '../output.js';
import { openSession } from '../session.js';
import { confirmAction } from '../cluster-command.js';
import { runPlaybook } from '../playbook-run.js';
import { secretKeysFor } from '../../components/index.js';
import { replaceSecrets, type SecretSpec } from '../../engine/secrets.js';
import { sidecarPath } from '../../inventory/types.js';
import { UserError } from '../../util/errors.js';

/**
 * The secrets playbooks/rotate-secrets.yml applies everywhere they are used; any other key (one a component adds
 * without a step in that playbook) is not changed, as the file would then differ from what the hosts use.
 */
export function rotatable(key: string): boolean {
  return (
    [
      'postgres_superuser_password',
      'replication_password',
      'rewind_password',
      'patroni_api_password',
      'pgbouncer_auth_password',
      'haproxy_stats_password',
      'vrrp_password',
    ].includes(key) || /^postgres_user_[a-z0-9_]+_password$/.test(key)
  );
}

/** The keys to change: every rotatable one (no names), or the named ones, each a rotatable key of the secrets file. */
export function chooseSecrets(specs: readonly SecretSpec[], names: readonly string[]): string[] {
  const keys = specs.map((s) => s.key).filter(rotatable);
  if (!names.length) return keys;
  for (const n of names)
    if (!keys.includes(n))
      throw new UserError(
        specs.some((s) => s.key === n) ? `${n} is not changed by pgha rotate-secrets` : `no secret ${n}`,
        `name one of: ${keys.join(', ')}`,
      );
  return keys.filter((k) => names.includes(k));
}

export async function rotateSecrets(g: GlobalOptions, out: Out, names: string[], opts: { yes?: boolean }) {
  // The run lock is held while the file changes; the playbook takes it again for itself.
  const s = await openSession({ ...g, limit: undefined }, 'rotate-secrets', { check: false, onExec: out.exec });
  let keys: string[];
  try {
    const specs = secretKeysFor(s.inv);
    keys = chooseSecrets(specs, names);
    await confirmAction(
      'pgha rotate-secrets',
      keys.map((k) => ({ host: 'cluster', summary: `new ${k} (${specs.find((x) => x.key === k)?.description ?? k})` })),
      [
        'clients that log in with a changed password: they need the new one from the secrets file',
        'the old values (the secrets file then holds only the new ones)',
      ],
      Boolean(opts.yes),
    );
    replaceSecrets(sidecarPath(s.inv, 'secrets.yml'), specs, keys);
  } finally {
    await s.close();
  }
  out.info(`new values saved for ${keys.join(', ')}; applying them (PostgreSQL first, then each host's config)`);
  const result = await runPlaybook(
    { ...g, limit: undefined },
    out,
    'rotate-secrets',
    { check: false, diff: false },
    'rotate-secrets',
  );
  return { ...(result as object), rotated: keys };
}
