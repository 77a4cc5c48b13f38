// The client role: a host that is no member of the cluster (an admin or application box). pgha installs only the
// client tools there: psql (postgresql-client of the cluster's version) and etcdctl (etcd-client).
import type { Component, Resource, Step } from '../../engine/types.js';
import type { RoleDecl } from '../../inventory/catalog.js';
import type { ComponentEntry } from '../entry.js';
import { patroniSettings } from '../patroni/settings.js';

export const CLIENT_ROLES: RoleDecl[] = [
  { name: 'client', doc: 'no cluster member: only the client tools (psql, etcdctl), for admins and applications' },
];

/** The packages of the client tools for PostgreSQL `version`. */
export function clientPackages(version: number): string[] {
  return [`postgresql-client-${version}`, 'etcd-client'];
}

const tools: Step = {
  id: 'client.tools',
  title: 'Client tools (psql, etcdctl) on client hosts',
  resources(ctx): Resource[] {
    if (!ctx.host.roles.includes('client')) return [];
    return [{ kind: 'packages', names: clientPackages(patroniSettings(ctx.inventory, ctx.host).pgVersion) }];
  },
};

export const client: Component = { name: 'client', steps: [tools] };

export const clientEntry: ComponentEntry = { component: client, roles: CLIENT_ROLES };
