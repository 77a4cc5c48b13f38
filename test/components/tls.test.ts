// The inventory's CA and host certificates, made with the real openssl CLI in a temp folder.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCa, ensureHostCert, tlsDir } from '../../src/components/tls/ca.js';
import { mask } from '../../src/engine/mask.js';
import type { Host } from '../../src/inventory/types.js';
import { UserError } from '../../src/util/errors.js';

function inventory(vars: Record<string, unknown> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-tls-'));
  return { file: join(dir, 'lab.yml'), dir, cluster: 'demo', vars };
}
const pg1: Host = {
  name: 'pg1',
  address: '10.77.0.11',
  roles: ['postgres'],
  groups: [],
  ssh: { user: 'root', port: 22, become: false },
  vars: {},
};
const x509 = (pem: string, ...args: string[]) =>
  execFileSync('openssl', ['x509', '-noout', ...args], { input: pem, encoding: 'utf8' });

describe('tls', () => {
  it('plan makes nothing: no CA, no certificate', () => {
    const inv = inventory();
    expect(ensureHostCert(inv, pg1, false)).toBeUndefined();
    expect(existsSync(tlsDir(inv))).toBe(false);
  });

  it('one CA per inventory (key 0600), a host certificate with name and address, signed by it', () => {
    const inv = inventory();
    const got = ensureHostCert(inv, pg1, true)!;
    const ca = ensureCa(inv, false)!;
    expect(statSync(ca.key).mode & 0o777).toBe(0o600);
    expect(statSync(`${tlsDir(inv)}/hosts/pg1.key`).mode & 0o777).toBe(0o600);
    expect(x509(got.cert, '-subject')).toMatch(/CN ?= ?pg1/);
    const sans = x509(got.cert, '-ext', 'subjectAltName');
    expect(sans).toContain('DNS:pg1');
    expect(sans).toContain('IP Address:10.77.0.11');
    expect(x509(got.cert, '-ext', 'extendedKeyUsage')).toMatch(
      /TLS Web Server Authentication, TLS Web Client Authentication/,
    );
    const certFile = join(inv.dir, 'pg1.pem');
    writeFileSync(certFile, got.cert);
    expect(execFileSync('openssl', ['verify', '-CAfile', ca.cert, certFile], { encoding: 'utf8' })).toMatch(/OK/);
    // The key is masked wherever it would be logged.
    expect(mask(`key: ${got.key.trim()}`)).toBe('key: ********');
  });

  it('the same certificate on a second run; a new one when the address changes', () => {
    const inv = inventory();
    const a = ensureHostCert(inv, pg1, true)!;
    expect(ensureHostCert(inv, pg1, true)!.cert).toBe(a.cert);
    const moved = ensureHostCert(inv, { ...pg1, address: '10.77.0.99' }, true)!;
    expect(moved.cert).not.toBe(a.cert);
    expect(x509(moved.cert, '-ext', 'subjectAltName')).toContain('IP Address:10.77.0.99');
  });

  it('bring your own CA: used as given; a key others can read is refused', () => {
    const own = inventory();
    const ca = ensureCa(own, true)!;
    const inv = inventory({ tls_ca_cert_file: ca.cert, tls_ca_key_file: ca.key });
    const got = ensureHostCert(inv, pg1, true)!;
    expect(got.ca).toBe(ensureHostCert(own, pg1, true)!.ca);
    expect(existsSync(`${tlsDir(inv)}/ca.key`)).toBe(false);
    chmodSync(ca.key, 0o644);
    expect(() => ensureCa(inv, true)).toThrow(UserError);
  });
});
