// The TLS variables: the switch (tls_enabled) and, optionally, the inventory's own certificate authority instead of
// the one pgha makes.
import type { Host, Inventory } from '../../inventory/types.js';
import { defineSettings } from '../settings.js';

export const tlsVars = defineSettings({
  enabled: {
    name: 'tls_enabled',
    type: 'bool',
    default: true,
    level: 'cluster',
    doc: "TLS between the cluster's services (default true): etcd client and peer TLS with client certificates, Patroni's REST API over HTTPS only (HAProxy checks it with the CA), PostgreSQL with ssl on and hostssl rules for every connection from another host. false keeps plain TCP; switching a running cluster from false to true is done in place by pgha up.",
  },
  caCertFile: {
    name: 'tls_ca_cert_file',
    type: 'string',
    default: '',
    pattern: '^[^\\n]*$',
    level: 'cluster',
    doc: "Your own CA certificate (PEM; a path relative to the inventory). With tls_ca_key_file, pgha signs the hosts' certificates with it instead of making a CA of its own in .pgha/<inventory>/tls/.",
  },
  caKeyFile: {
    name: 'tls_ca_key_file',
    type: 'string',
    default: '',
    pattern: '^[^\\n]*$',
    level: 'cluster',
    doc: 'The key of tls_ca_cert_file (PEM, unencrypted, mode 0600; a path relative to the inventory).',
  },
});

/** Whether TLS is on, as this host reads it (a cluster-level switch: set it in the top-level vars). */
export function tlsEnabled(inv: Pick<Inventory, 'file'>, host: Host): boolean {
  return tlsVars.read(inv, host).enabled;
}
