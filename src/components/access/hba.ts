// pg_hba rules, least privilege: the superuser from local sockets and the cluster's own hosts only; replication
// and rewind between the members; PgBouncer's auth role from loopback; then the inventory's own rules
// (postgres_hba); then each application user to the databases it owns, from the cluster network and through the
// local PgBouncer. Anything else matches no line and is refused. Non-local lines are `host` lines: with TLS on,
// the one switch that turns them into `hostssl` applies to these too.
import type { Host } from '../../inventory/types.js';
import type { Access } from './settings.js';

export interface HbaInput {
  /** Every host of the inventory (clients excluded below: they are no cluster host). */
  hosts: readonly Host[];
  subnet: string;
  superuser: string;
  replicationUser: string;
  rewindUser: string;
  /** PgBouncer's auth_query role, when PgBouncer runs on the members. */
  pgbouncerAuthUser?: string;
  access: Access;
}

const M = 'scram-sha-256';

export function hbaLines(i: HbaInput): string[] {
  const members = i.hosts.filter((h) => h.roles.includes('postgres'));
  // The cluster's own hosts: every host with a role other than client (HAProxy hosts proxy the superuser's
  // connections through the VIP, so PostgreSQL sees their address).
  const own = i.hosts.filter((h) => h.roles.some((r) => r !== 'client'));
  const lines = [
    'local all all peer',
    `host all ${i.superuser} 127.0.0.1/32 ${M}`,
    `host replication ${i.replicationUser} 127.0.0.1/32 ${M}`,
  ];
  for (const h of members) lines.push(`host replication ${i.replicationUser} ${h.address}/32 ${M}`);
  for (const h of members) lines.push(`host all ${i.rewindUser} ${h.address}/32 ${M}`);
  for (const h of own) lines.push(`host all ${i.superuser} ${h.address}/32 ${M}`);
  if (i.pgbouncerAuthUser) lines.push(`host all ${i.pgbouncerAuthUser} 127.0.0.1/32 ${M}`);
  for (const r of i.access.hba) lines.push(`${r.type} ${r.database} ${r.user} ${r.address} ${r.method}`);
  for (const u of i.access.users) {
    const dbs = i.access.databases.filter((d) => d.owner === u.name).map((d) => d.name);
    if (!dbs.length) continue;
    // PgBouncer on the member connects from loopback; HAProxy and direct clients come from the cluster network.
    lines.push(`host ${dbs.join(',')} ${u.name} 127.0.0.1/32 ${M}`);
    lines.push(`host ${dbs.join(',')} ${u.name} ${i.subnet} ${M}`);
  }
  return lines;
}
