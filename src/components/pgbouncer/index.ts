// The pgbouncer component (connection pooling on the postgres hosts, with pgbouncer_enabled): its variables, the
// rules across them and other components' ports, its secret and its steps (templates under templates/pgbouncer/).
import type { ComponentEntry } from '../entry.js';
import { pgbouncer } from './steps.js';
import { PGBOUNCER_SECRETS, pgbouncerCrossRules, pgbouncerVars } from './settings.js';

export const pgbouncerEntry: ComponentEntry = {
  component: pgbouncer,
  settings: { list: pgbouncerVars.list, rules: [...pgbouncerVars.rules, ...pgbouncerCrossRules] },
  prefixes: ['pgbouncer_', 'haproxy_pooled_'],
  secrets: PGBOUNCER_SECRETS,
};
