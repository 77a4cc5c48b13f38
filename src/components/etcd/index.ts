// The etcd component: its role, its variables and its steps (templates under templates/etcd/).
import type { ComponentEntry } from '../entry.js';
import { etcd } from './steps.js';
import { ETCD_ROLES, etcdVars } from './settings.js';

export const etcdEntry: ComponentEntry = {
  component: etcd,
  roles: ETCD_ROLES,
  settings: etcdVars,
  prefixes: ['etcd_'],
};
