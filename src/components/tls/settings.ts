// The TLS variables: an inventory may bring its own certificate authority instead of the one pgha makes.
import { defineSettings } from '../settings.js';

export const tlsVars = defineSettings({
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
