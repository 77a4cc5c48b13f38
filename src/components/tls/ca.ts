// The inventory's certificate authority and one certificate per host, made on the control machine with the
// openssl CLI and kept beside the inventory (.pgha/<inventory>/tls/, keys mode 0600). Any service can use them:
// the CA certificate to trust, the host's certificate (its name and address as subject alternative names, for
// server and client authentication) and its key. The keys never leave this folder except as files for the hosts.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { Host, Inventory } from '../../inventory/types.js';
import { sidecarDir } from '../../inventory/types.js';
import { UserError } from '../../util/errors.js';
import { addSecret } from '../../engine/mask.js';

export interface CaFiles {
  cert: string;
  key: string;
  /** True when the inventory brings its own CA (tls_ca_cert_file / tls_ca_key_file). */
  own: boolean;
}

export interface HostCert {
  ca: string; // PEM of the CA certificate
  cert: string; // PEM of the host certificate
  key: string; // PEM of the host key
}

/** Days a host certificate is valid; it is issued again when less than RENEW_DAYS remain. */
export const HOST_CERT_DAYS = 825;
export const RENEW_DAYS = 30;
export const CA_DAYS = 3650;

export function tlsDir(inv: Pick<Inventory, 'file'>): string {
  return `${sidecarDir(inv)}/tls`;
}

function openssl(args: string[], input?: string): string {
  try {
    return execFileSync('openssl', args, { input, stdio: ['pipe', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (e) {
    const err = e as { stderr?: string; code?: string; message: string };
    if (err.code === 'ENOENT')
      throw new UserError(
        'the openssl command is not installed on this machine',
        'install it: apt-get install openssl',
      );
    throw new Error(`openssl ${args[0]} failed: ${(err.stderr ?? err.message).trim()}`, { cause: e });
  }
}

function opensslOk(args: string[]): boolean {
  try {
    openssl(args);
    return true;
  } catch {
    return false;
  }
}

/** A private key file must not be readable by others than its owner. */
function checkKeyMode(path: string, what: string): void {
  const mode = statSync(path).mode & 0o077;
  if (mode !== 0)
    throw new UserError(
      `${what} ${path} can be read by others (mode ${(statSync(path).mode & 0o777).toString(8)})`,
      `chmod 600 ${path}`,
    );
}

/**
 * The CA to sign host certificates with: the inventory's own (vars tls_ca_cert_file and tls_ca_key_file, paths
 * relative to the inventory) or one made once in .pgha/<inventory>/tls/. With `create` false (plan), a missing CA
 * is not made: undefined.
 */
export function ensureCa(
  inv: Pick<Inventory, 'file' | 'dir' | 'cluster' | 'vars'>,
  create: boolean,
): CaFiles | undefined {
  const ownCert = inv.vars.tls_ca_cert_file;
  const ownKey = inv.vars.tls_ca_key_file;
  if (typeof ownCert === 'string' && ownCert !== '' && typeof ownKey === 'string' && ownKey !== '') {
    const at = (p: string) => (isAbsolute(p) ? p : resolve(inv.dir, p));
    const files = { cert: at(ownCert), key: at(ownKey), own: true };
    for (const [f, what] of [
      [files.cert, 'tls_ca_cert_file'],
      [files.key, 'tls_ca_key_file'],
    ] as const)
      if (!existsSync(f))
        throw new UserError(`${what} ${f} does not exist`, `fix vars.${what} in the inventory`, {
          file: inv.file,
          field: `vars.${what}`,
        });
    checkKeyMode(files.key, 'tls_ca_key_file');
    return files;
  }
  const dir = tlsDir(inv);
  const files = { cert: `${dir}/ca.crt`, key: `${dir}/ca.key`, own: false };
  if (existsSync(files.cert) && existsSync(files.key)) {
    checkKeyMode(files.key, 'the CA key');
    return files;
  }
  if (!create) return undefined;
  mkdirSync(`${dir}/hosts`, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  // The key is written by openssl itself into a folder only we can read; its mode is set before anything else.
  const tmpKey = `${files.key}.new`;
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', tmpKey]);
  chmodSync(tmpKey, 0o600);
  openssl([
    'req',
    '-x509',
    '-new',
    '-key',
    tmpKey,
    '-sha256',
    '-days',
    String(CA_DAYS),
    '-subj',
    `/CN=pgha ${inv.cluster} CA`,
    '-addext',
    'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-out',
    files.cert,
  ]);
  execFileSync('mv', [tmpKey, files.key]);
  return files;
}

/**
 * The subject alternative names a host's certificate carries: its name and its address. The address is also a
 * DNS name: clients that match a host given as an address against DNS names only (pgBackRest 2.45) accept it too.
 */
export function hostSans(host: Pick<Host, 'name' | 'address'>): string {
  return `DNS:${host.name},DNS:${host.address},IP:${host.address}`;
}

/** Whether an existing host certificate is still right: signed by this CA, with these SANs, not about to expire. */
function certCurrent(ca: CaFiles, crt: string, host: Host): boolean {
  if (!opensslOk(['verify', '-CAfile', ca.cert, crt])) return false;
  if (!opensslOk(['x509', '-in', crt, '-noout', '-checkend', String(RENEW_DAYS * 86400)])) return false;
  const text = openssl(['x509', '-in', crt, '-noout', '-ext', 'subjectAltName']);
  const sans = text
    .split('\n')
    .slice(1)
    .join(',')
    .split(',')
    .map((s) => s.trim().replace(/^IP Address:/, 'IP:'))
    .filter(Boolean)
    .sort();
  return JSON.stringify(sans) === JSON.stringify(hostSans(host).split(',').sort());
}

/**
 * The host's certificate and key, issued (or issued again: another CA, another address, expiring) when needed.
 * With `create` false (plan), nothing is made: undefined when the host has none that is current.
 */
export function ensureHostCert(
  inv: Pick<Inventory, 'file' | 'dir' | 'cluster' | 'vars'>,
  host: Host,
  create: boolean,
): HostCert | undefined {
  const ca = ensureCa(inv, create);
  if (!ca) return undefined;
  const dir = `${tlsDir(inv)}/hosts`;
  const crt = `${dir}/${host.name}.crt`;
  const key = `${dir}/${host.name}.key`;
  if (!(existsSync(crt) && existsSync(key) && certCurrent(ca, crt, host))) {
    if (!create) return undefined;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const csr = `${dir}/${host.name}.csr`;
    const ext = `${dir}/${host.name}.ext`;
    rmSync(key, { force: true });
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key]);
    chmodSync(key, 0o600);
    openssl(['req', '-new', '-key', key, '-subj', `/CN=${host.name}`, '-out', csr]);
    writeFileSync(
      ext,
      [
        `subjectAltName=${hostSans(host)}`,
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth,clientAuth',
        '',
      ].join('\n'),
    );
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-CAserial',
      `${tlsDir(inv)}/ca.srl`,
      '-sha256',
      '-days',
      String(HOST_CERT_DAYS),
      '-extfile',
      ext,
      '-out',
      crt,
    ]);
    rmSync(csr, { force: true });
    rmSync(ext, { force: true });
  }
  checkKeyMode(key, 'the host key');
  const out = { ca: readFileSync(ca.cert, 'utf8'), cert: readFileSync(crt, 'utf8'), key: readFileSync(key, 'utf8') };
  addSecret(out.key.trim());
  return out;
}
