// The TLS variables: TLS on or off for the cluster's services, and an inventory may bring its own certificate
// authority instead of the one pgha makes.
import type { Host, Inventory } from '../../inventory/types.js';
import { defineSettings } from '../settings.js';

export const tlsVars = defineSettings({
  enabled: {
    name: 'tls_enabled',
    type: 'bool',
    default: true,
    level: 'cluster',
    doc: "TLS for the cluster's services with certificates of the inventory's CA (default true). false keeps plain connections; switching a running cluster from false to true is done in place by pgha up.",
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

/** Whether the cluster's services use TLS (tls_enabled, a cluster-wide value: any host of the cluster answers). */
export function tlsEnabled(inv: Pick<Inventory, 'file'>, host: Host): boolean {
  return tlsVars.read(inv, host).enabled;
}
