// Why an Ansible (autobase) variable has no pgha equivalent, and how its value may be shown in a comment.
import { VAULT } from './types.js';

const REASONS: [RegExp, string][] = [
  [/^pgbouncer/, 'set pgbouncer_enabled and the pgbouncer_* variables by hand (README: Connection pooling)'],
  [/^(pgbackrest|wal_g|walg|wal-g|backup|barman|pg_probackup)/, 'pgha has no backup tool yet'],
  [/^(consul|dcs_type)/, 'pgha runs etcd as the DCS, not Consul'],
  [
    /^(dcs_exists|patroni_etcd_hosts|etcd_ver|etcd_version)/,
    'pgha installs and runs its own etcd (Debian 12 package) on the etcd hosts',
  ],
  [/^(vip_manager|cluster_vip_)/, 'pgha holds the VIP with keepalived on the haproxy hosts, not with vip-manager'],
  [
    /^(postgresql_users|postgresql_databases)/,
    'declare them by hand in postgres_users / postgres_databases (passwords go in the secrets file, never the inventory)',
  ],
  [
    /^(postgresql_extensions|postgresql_schemas|postgresql_privs|postgresql_pg_ident)/,
    'pgha does not create extensions, schemas or privileges yet',
  ],
  [
    /^postgresql_pg_hba/,
    "pgha writes pg_hba itself (least privilege); declare the application's rules by hand in postgres_hba",
  ],
  [
    /^postgresql_(data|wal|conf|bin|log)_dir$/,
    'pgha keeps PostgreSQL in /var/lib/postgresql/15/patroni (postgres_data_dir) with the Debian package layout',
  ],
  [/^(postgresql_exists|new_node|new_nodes|balancer_tags)$/, 'Ansible run state, not a cluster setting'],
  [/^patroni_tags$/, 'pgha sets no Patroni tags'],
  [
    /^(patroni_standby_cluster|patroni_cluster_bootstrap_method|patroni_create_replica_methods|basebackup)/,
    'pgha bootstraps with initdb and clones replicas with pg_basebackup only',
  ],
  [/^(haproxy_timeout|haproxy_listen_port|haproxy_maxconn)$/, 'pgha has no such HAProxy setting'],
  [/^(ansible_python_interpreter)$/, 'pgha does not run Python on the hosts'],
  [/^(ansible_become_user|ansible_become_method)$/, 'pgha becomes root with `sudo -n` only'],
  [/^ansible_/, 'an Ansible connection setting pgha has no equivalent for'],
  [
    /^(proxy_env|apt_proxy|yum_proxy)/,
    'pgha installs packages from the Debian 12 mirrors it is given (lab: through its package cache)',
  ],
  [
    /^(firewall|ntp|chrony|timezone|locale|sysctl|kernel|transparent_huge|disable_thp|swap|hosts_file|etc_hosts|resolv|netdata|pg_probackup)/,
    "pgha does not manage the operating system beyond the cluster's own packages and files",
  ],
  [/^postgresql_password_encryption_algorithm$/, 'pgha sets password_encryption to scram-sha-256'],
  [
    /^(postgresql_encoding|postgresql_locale|postgresql_data_checksums)$/,
    'pgha initialises the cluster with its own initdb settings',
  ],
  [/^(patroni_with_watchdog|patroni_watchdog)/, 'pgha does not configure a watchdog'],
  [
    /^(patroni_log|patroni_install|patroni_scripts|patroni_installation|patroni_pip)/,
    'pgha installs Patroni from Debian 12 and logs to the journal',
  ],
];

/** Secrets never appear in the output: only their name and where they were set. */
export function isSecret(name: string, value: unknown): boolean {
  return value === VAULT || /(pass|password|passwd|secret|token|_key)$/i.test(name) || /_pass(word)?_/i.test(name);
}

export function reasonFor(name: string, value: unknown): string {
  if (value === VAULT) return 'encrypted with ansible-vault: decrypt it and set it again if pgha has an equivalent';
  if (/(password|pass|passwd)$/i.test(name)) {
    return /^ansible_/.test(name)
      ? 'a secret: pgha logs in with SSH keys and becomes root with `sudo -n`, without passwords'
      : "a secret: pgha generates the cluster's passwords and keeps them in the 0600 secrets file beside the inventory (or PGHA_SECRET_<KEY>)";
  }
  for (const [re, why] of REASONS) if (re.test(name)) return why;
  return 'not a setting pgha knows';
}

/** A value as shown in a comment: compact, one line, at most 60 characters. */
export function showValue(value: unknown): string {
  const s = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const one = s.replace(/\s+/g, ' ');
  return one.length > 60 ? `${one.slice(0, 57)}...` : one;
}
