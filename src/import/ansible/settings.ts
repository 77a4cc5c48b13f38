// Cluster settings from the hosts' Ansible variables: which autobase variable becomes which pgha variable,
// values gathered from every host and kept only when the hosts agree (pgha sets them for the whole cluster).
import { isDeepStrictEqual } from 'node:util';
import { knownVars } from '../../inventory/vars.js';
import { catalog } from '../../components/index.js';

const KNOWN_VARS = knownVars(catalog);
import { isSecret, reasonFor, showValue } from './reasons.js';
import { checkKnown, hasTemplate, parameterItems } from './values.js';
import type { Sourced } from './types.js';

/** A variable that was not written, with where it was set and why. */
export interface Unmapped {
  name: string;
  where: string;
  why: string;
  /** The value as shown in the comment (absent for secrets). */
  shown?: string;
  /** pgha host name when the variable concerns one host only. */
  host?: string;
}

/** autobase name -> pgha variable (type-checked against pgha's known variables). */
export const RENAMED: Record<string, string> = {
  patroni_ttl: 'patroni_ttl',
  patroni_loop_wait: 'patroni_loop_wait',
  patroni_retry_timeout: 'patroni_retry_timeout',
  patroni_maximum_lag_on_failover: 'patroni_maximum_lag_on_failover',
  synchronous_mode: 'patroni_synchronous_mode',
  synchronous_mode_strict: 'patroni_synchronous_mode_strict',
  postgresql_port: 'postgres_port',
  patroni_restapi_port: 'patroni_restapi_port',
  patroni_superuser_username: 'postgres_superuser',
  patroni_replication_username: 'postgres_replication_user',
  etcd_cluster_name: 'etcd_initial_cluster_token',
  vip_interface: 'keepalived_interface',
};

/** Variables of the same name in both that pgha does not take from Ansible. */
const KEPT_OUT: Record<string, string> = {
  etcd_data_dir:
    "pgha keeps etcd's data in its own directory (default /var/lib/etcd/pgha), away from the Debian package's /var/lib/etcd/default",
};

/** Keys of autobase's map variables that have a pgha equivalent. */
const SUBKEYS: Record<string, Record<string, string>> = {
  haproxy_listen_port: {
    master: 'haproxy_primary_port',
    replicas: 'haproxy_replica_port',
    stats: 'haproxy_stats_port',
  },
  haproxy_maxconn: { global: 'haproxy_maxconn' },
};

/** Read by the mapping itself (roles, network, cluster name) rather than written as pgha variables. */
export const DECISION_VARS = new Set([
  'cluster_vip',
  'patroni_cluster_name',
  'postgresql_version',
  'synchronous_node_count',
  'with_haproxy_load_balancing',
]);

interface Seen {
  host: string;
  value: unknown;
  where: string;
  /** The Ansible variable (or map key) the value came from. */
  from?: string;
}

/** Gathers per-host values of cluster settings and the variables that cannot be mapped. */
export class Settings {
  readonly values = new Map<string, Seen[]>();
  readonly params = new Map<string, Seen[]>();
  readonly unmapped: Unmapped[] = [];

  report(name: string, s: Sourced, why: string, host?: string): void {
    const shown = isSecret(name, s.value) ? undefined : showValue(s.value);
    if (this.unmapped.some((u) => u.name === name && u.where === s.where && u.why === why && u.host === host)) return;
    this.unmapped.push({ name, where: s.where, why, shown, host });
  }

  /** One host's variable that is neither a host setting (address, SSH) nor a decision. */
  add(host: string, name: string, s: Sourced, postgresHost: boolean, own: boolean): void {
    const at = own ? host : undefined;
    if (hasTemplate(s.value) && !['postgresql_parameters', 'local_postgresql_parameters'].includes(name)) {
      return this.report(name, s, 'uses a Jinja expression pgha cannot evaluate', at);
    }
    if (name === 'dcs_type' && s.value === 'etcd') return;
    if (name in KEPT_OUT) return this.report(name, s, KEPT_OUT[name], at);
    const target =
      RENAMED[name] ?? (name in KNOWN_VARS && !(name in SUBKEYS) && name !== 'postgres_parameters' ? name : undefined);
    if (target) return this.set(host, target, name, s);
    if (name in SUBKEYS) {
      const v = s.value;
      if (!v || typeof v !== 'object' || Array.isArray(v))
        return this.report(name, s, `expected a map (${Object.keys(SUBKEYS[name]).join(', ')})`, at);
      for (const [k, x] of Object.entries(v)) {
        const t = SUBKEYS[name][k];
        if (t) this.set(host, t, `${name}.${k}`, { value: x, where: s.where });
        else this.report(`${name}.${k}`, { value: x, where: s.where }, 'pgha has no such HAProxy setting', at);
      }
      return;
    }
    if (name === 'postgresql_parameters' || name === 'local_postgresql_parameters' || name === 'postgres_parameters') {
      const items = parameterItems(s.value);
      if (!items) return this.report(name, s, 'expected a list of {option, value} (or a map of parameters)', at);
      if (!postgresHost) return;
      for (const it of items) {
        if (it.why) this.report(`${name}[${it.option}]`, { value: it.raw, where: s.where }, it.why, at);
        else
          this.params.set(it.option, [
            ...(this.params.get(it.option) ?? []).filter((p) => p.host !== host),
            { host, value: it.value, where: s.where },
          ]);
      }
      return;
    }
    this.report(name, s, reasonFor(name, s.value), at);
  }

  private set(host: string, target: string, from: string, s: Sourced): void {
    const c = checkKnown(target, s.value);
    if (!c.ok) return this.report(from, s, c.why);
    this.values.set(target, [...(this.values.get(target) ?? []), { host, value: c.value, where: s.where, from }]);
  }

  /** Cluster vars where the hosts agree; a setting that differs between hosts is reported. */
  consolidate(postgresHosts: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [target, seen] of this.values) {
      const v = agreed(seen);
      if (v.ok) out[target] = v.value;
      else
        this.reportSplit(
          seen,
          (s) => s.from ?? target,
          `differs between hosts (${v.why}); pgha sets ${target} for the whole cluster`,
        );
    }
    const params: Record<string, unknown> = {};
    for (const [option, seen] of [...this.params].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const v =
        seen.length === postgresHosts
          ? agreed(seen)
          : { ok: false as const, why: `set on ${seen.map((s) => s.host).join(', ')} only` };
      if (v.ok) params[option] = v.value;
      else
        this.reportSplit(
          seen,
          () => `postgres parameter ${option}`,
          `differs between the postgres hosts (${v.why}); pgha keeps parameters cluster-wide in the DCS`,
        );
    }
    if (Object.keys(params).length) out.postgres_parameters = params;
    return out;
  }

  /** One report per place a value was set: on the host when only one host has it from there. */
  private reportSplit(seen: Seen[], name: (s: Seen) => string, why: string): void {
    const places = new Map<string, Seen[]>();
    for (const s of seen)
      places.set(`${s.where}\u0000${JSON.stringify(s.value)}`, [
        ...(places.get(`${s.where}\u0000${JSON.stringify(s.value)}`) ?? []),
        s,
      ]);
    for (const group of places.values())
      this.report(name(group[0]), group[0], why, group.length === 1 ? group[0].host : undefined);
  }
}

function agreed(seen: Seen[]): { ok: true; value: unknown } | { ok: false; why: string } {
  if (seen.every((s) => isDeepStrictEqual(s.value, seen[0].value))) return { ok: true, value: seen[0].value };
  return { ok: false, why: seen.map((s) => `${s.host}: ${showValue(s.value)}`).join(', ') };
}

/** The one value every host agrees on for a decision variable, or why there is none. */
export function decision(seen: Seen[] | undefined): { value?: unknown; where?: string; why?: string } {
  if (!seen?.length) return {};
  const v = agreed(seen);
  return v.ok ? { value: v.value, where: seen[0].where } : { why: v.why, where: seen[0].where };
}
