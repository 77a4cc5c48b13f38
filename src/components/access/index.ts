// The access component: the application databases and roles the inventory declares (and pgha's own database),
// created and kept on the leader once Patroni runs. pg_hba rules: ./hba.ts, rendered into Patroni's config.
import type { Component, Resource, Step, StepContext } from '../../engine/types.js';
import type { ComponentEntry } from '../entry.js';
import { defineStep } from '../../engine/step.js';
import { patroniSettings } from '../patroni/settings.js';
import { pgbouncerSettings } from '../pgbouncer/settings.js';
import { secret } from '../secrets.js';
import { accessChanges, accessFact, localPsql } from './sql.js';
import { accessSettings, accessVars, PGHA_DATABASE, userSecretKey } from './settings.js';

/**
 * The roles Patroni creates (and PgBouncer's auth role, with pooling), with the passwords the secrets file holds:
 * after a rotation they get the new one here, on the leader, before any config that uses it changes.
 */
export function systemRoles(
  ctx: Pick<StepContext, 'inventory' | 'host' | 'secrets'>,
): { name: string; password: string }[] {
  const s = patroniSettings(ctx.inventory, ctx.host);
  const pgb = pgbouncerSettings(ctx.inventory, ctx.host);
  return [
    { name: s.superuser, password: secret(ctx, 'postgres_superuser_password') },
    { name: s.replicationUser, password: secret(ctx, 'replication_password') },
    { name: s.rewindUser, password: secret(ctx, 'rewind_password') },
    ...(pgb.enabled ? [{ name: pgb.authUser, password: secret(ctx, 'pgbouncer_auth_password') }] : []),
  ];
}

const apply: Step = defineStep({
  id: 'access.roles',
  title: 'Application roles and databases on the leader (postgres_users, postgres_databases)',
  needs: ['patroni'], // the leader elected and running
  facts(ctx) {
    const a = accessSettings(ctx.inventory, ctx.host);
    const s = patroniSettings(ctx.inventory, ctx.host);
    const dbs = [PGHA_DATABASE, ...a.databases.map((d) => d.name)];
    const roles = [...systemRoles(ctx).map((r) => r.name), ...a.users.map((u) => u.name)];
    return { pg: accessFact(s.pgPort, roles, dbs) };
  },
  resources(ctx, facts): Resource[] {
    if (!ctx.host.roles.includes('postgres')) return [];
    // Replicas get roles and databases by replication; before the first read (guess round) nothing is known.
    if (!facts.pg || facts.pg.primary !== true) return [];
    const a = accessSettings(ctx.inventory, ctx.host);
    const s = patroniSettings(ctx.inventory, ctx.host);
    const passwords = Object.fromEntries(a.users.map((u) => [u.name, secret(ctx, userSecretKey(u.name))]));
    const system = systemRoles(ctx);
    return accessChanges(a, facts.pg, passwords, s.superuser, system).map((c) => ({
      kind: 'command',
      label: c.label,
      script: localPsql(s.pgPort, '-q -f -'),
      stdin: c.sql,
      secrets: [...Object.values(passwords), ...system.map((r) => r.password)],
    }));
  },
});

export const access: Component = { name: 'access', steps: [apply] };

export const accessEntry: ComponentEntry = { component: access, settings: accessVars };
