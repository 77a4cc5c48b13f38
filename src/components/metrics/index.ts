// The metrics component: Prometheus exporters switched on by inventory variables (templates under
// templates/metrics/), and the list of every metrics endpoint of the cluster.
import type { ComponentEntry } from '../entry.js';
import { metrics } from './steps.js';
import { haproxyPortRule, METRICS_ROLES, metricsVars } from './settings.js';

export const metricsEntry: ComponentEntry = {
  component: metrics,
  roles: METRICS_ROLES,
  settings: { list: metricsVars.list, rules: [...metricsVars.rules, haproxyPortRule] },
  prefixes: ['metrics_'],
};
