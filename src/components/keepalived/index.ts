// The keepalived component (on the haproxy hosts): its variables, its secret and its steps (templates under
// templates/keepalived/).
import type { ComponentEntry } from '../entry.js';
import { keepalived } from './steps.js';
import { KEEPALIVED_SECRETS, keepalivedVars } from './settings.js';

export const keepalivedEntry: ComponentEntry = {
  component: keepalived,
  settings: keepalivedVars,
  prefixes: ['keepalived_'],
  secrets: KEEPALIVED_SECRETS,
};
