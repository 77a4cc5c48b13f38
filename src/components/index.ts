// The registry: one entry per component. The playbook loader resolves `component:` names against it, the
// inventory loader checks roles and variables against its catalog, and the secrets file holds its secrets.
import type { Component } from '../engine/types.js';
import type { SecretSpec } from '../engine/secrets.js';
import type { Catalog } from '../inventory/catalog.js';
import { catalogOf, type ComponentEntry } from './entry.js';
import { etcdEntry } from './etcd/index.js';
import { etcdMigrate } from './etcd/migrate.js';
import { patroniEntry } from './patroni/index.js';
import { haproxyEntry } from './haproxy/index.js';
import { keepalivedEntry } from './keepalived/index.js';
import { pgbouncerEntry } from './pgbouncer/index.js';
import { metricsEntry } from './metrics/index.js';
import { verify } from './verify/index.js';
import { backupEntry } from './backup/index.js';
import { tlsEntry } from './tls/index.js';
import { demoEntry } from './demo/index.js';
import { firewallEntry } from './firewall/index.js';
import { clientEntry } from './client/index.js';
import { packagesEntry } from './packages/index.js';
import { accessEntry } from './access/index.js';
import { accessSecrets } from './access/settings.js';
import type { Inventory } from '../inventory/types.js';

export const ENTRIES: readonly ComponentEntry[] = [
  etcdEntry,
  { component: etcdMigrate },
  patroniEntry,
  pgbouncerEntry,
  accessEntry,
  haproxyEntry,
  keepalivedEntry,
  metricsEntry,
  tlsEntry,
  backupEntry,
  firewallEntry,
  clientEntry,
  packagesEntry,
  { component: verify },
  demoEntry,
];

export const components: Record<string, Component> = Object.fromEntries(
  ENTRIES.flatMap((e) => (e.component ? [[e.component.name, e.component]] : [])),
);

/** What loadInventory checks an inventory against. */
export const catalog: Catalog = catalogOf(ENTRIES);

export const SECRET_KEYS: readonly SecretSpec[] = ENTRIES.flatMap((e) => e.secrets ?? []);

/** Every secret of an inventory: the components' own and a password per application user it declares. */
export function secretKeysFor(inv: Pick<Inventory, 'file' | 'hosts'>): SecretSpec[] {
  return [...SECRET_KEYS, ...accessSecrets(inv)];
}
