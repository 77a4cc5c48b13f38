// The patroni component (PostgreSQL + Patroni): the postgres role, its variables and timing rule, its secrets
// and its steps (templates under templates/patroni/).
import type { ComponentEntry } from '../entry.js';
import { patroni } from './steps.js';
import { PATRONI_ROLES, PATRONI_SECRETS, patroniVars } from './settings.js';

export const patroniEntry: ComponentEntry = {
  component: patroni,
  roles: PATRONI_ROLES,
  settings: patroniVars,
  prefixes: ['patroni_', 'postgres_'],
  secrets: PATRONI_SECRETS,
};
