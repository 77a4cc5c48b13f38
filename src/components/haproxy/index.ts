// The haproxy component: its role, its variables and its steps (templates under templates/haproxy/).
import type { ComponentEntry } from '../entry.js';
import { haproxy } from './steps.js';
import { HAPROXY_ROLES, HAPROXY_SECRETS, haproxyVars } from './settings.js';

export const haproxyEntry: ComponentEntry = {
  component: haproxy,
  roles: HAPROXY_ROLES,
  settings: haproxyVars,
  prefixes: ['haproxy_'],
  secrets: HAPROXY_SECRETS,
};
