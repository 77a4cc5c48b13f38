// The backup component: pgBackRest in TLS server mode, its role (backup: the repository host), its variables,
// the rule of one repository host, and its steps (templates under templates/backup/).
import type { ComponentEntry } from '../entry.js';
import { backup } from './steps.js';
import { BACKUP_ROLES, backupInventoryRule, backupVars } from './settings.js';

export const backupEntry: ComponentEntry = {
  component: backup,
  roles: BACKUP_ROLES,
  settings: backupVars,
  prefixes: ['backup_'],
  inventoryRules: [backupInventoryRule],
};
