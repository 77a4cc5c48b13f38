// PgBouncer on role postgres, when pgbouncer_enabled: transaction pooling on the member's own address (and the local
// socket) in front of its PostgreSQL, clients authenticated through auth_query. A changed config is reloaded, or
// restarted when a setting PgBouncer reads only at start changed. Off: nothing is installed or changed (the config
// step only reads its facts).
import type { Component, Resource, Step, StepContext } from '../../engine/types.js';
import { defineStep } from '../../engine/step.js';
import { patroniSettings } from '../patroni/settings.js';
import { secret } from '../secrets.js';
import { pgbouncerSettings } from './settings.js';
import { pgbouncerFiles } from './config.js';
import { authCommand } from './auth.js';
import { iniFact, LEADER_ROLE_NAMES, patroniRoleFact } from './facts.js';
import { verifyPgbouncerMember, pgbouncerMemberReads } from './checks.js';
import { patroniApi } from '../patroni/api.js';

const install: Step = {
  id: 'pgbouncer.install',
  title: 'Install PgBouncer (with pgbouncer_enabled)',
  resources: (ctx) =>
    pgbouncerSettings(ctx.inventory, ctx.host).enabled ? [{ kind: 'packages', names: ['pgbouncer'] }] : [],
};

/** What the config step reads on a member: its Patroni role now, and PgBouncer's config as it is. */
export interface PgbouncerFacts {
  role: string;
  ini: string | undefined;
}

export function pgbouncerResources(ctx: StepContext, facts: Partial<PgbouncerFacts>): Resource[] {
  const s = pgbouncerSettings(ctx.inventory, ctx.host);
  if (!s.enabled) return [];
  const out: Resource[] = [
    ...pgbouncerFiles(ctx, facts.ini),
    { kind: 'service', name: 'pgbouncer', enabled: true, state: 'started' },
  ];
  // The role and the function are the cluster's: created on the member that is the leader now (replicas get them by
  // replication), after its own PgBouncer is configured.
  if (facts.role !== undefined && LEADER_ROLE_NAMES.includes(facts.role)) {
    out.push(
      authCommand({
        authUser: s.authUser,
        password: secret(ctx, 'pgbouncer_auth_password'),
        pgPort: patroniSettings(ctx.inventory, ctx.host).pgPort,
      }),
    );
  }
  return out;
}

const config = defineStep<PgbouncerFacts>({
  id: 'pgbouncer.config',
  title: 'Configure PgBouncer (transaction pooling, auth_query role and function on the leader)',
  needs: ['patroni'], // each member's Patroni role: the auth role is made on the leader
  facts: (ctx) => ({
    role: patroniRoleFact(patroniApi(ctx.inventory, ctx.host)),
    ini: iniFact,
  }),
  resources: pgbouncerResources,
  verify: async (ctx, t) => {
    if (pgbouncerSettings(ctx.inventory, ctx.host).enabled) await verifyPgbouncerMember(ctx, t, 60_000);
  },
  reads: pgbouncerMemberReads,
});

export const pgbouncerSteps: Step[] = [install, config];

export const pgbouncer: Component = { name: 'pgbouncer', steps: pgbouncerSteps };
