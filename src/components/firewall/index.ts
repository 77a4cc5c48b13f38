// The firewall component: an optional nftables table per host (steps, facts, checks; template under
// templates/firewall/).
import type { ComponentEntry } from '../entry.js';
import { firewall } from './steps.js';
import { firewallVars } from './settings.js';

export const firewallEntry: ComponentEntry = {
  component: firewall,
  settings: firewallVars,
  prefixes: ['firewall_'],
};
