// SSH keys checked before any VM is made: public keys by the rules PVE applies to `sshkeys` (each line is a key
// type, a base64 blob whose embedded type is that type, and an optional comment), and the private key file that
// must be the other half of one of them.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';

const KEY_TYPES = new Set([
  'ssh-ed25519',
  'ssh-rsa',
  'ssh-dss',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

/** The strings of an SSH wire-format blob (uint32 length + bytes each); undefined when the lengths do not add up. */
function wireStrings(blob: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let at = 0;
  while (at < blob.length) {
    if (at + 4 > blob.length) return undefined;
    const n = blob.readUInt32BE(at);
    if (at + 4 + n > blob.length) return undefined;
    out.push(blob.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return out;
}

/** Fields each key type's blob holds after its type name (and the length ed25519 keys must have). */
const FIELDS: Record<string, number> = {
  'ssh-ed25519': 1,
  'ssh-rsa': 2,
  'ssh-dss': 4,
  'ecdsa-sha2-nistp256': 2,
  'ecdsa-sha2-nistp384': 2,
  'ecdsa-sha2-nistp521': 2,
  'sk-ssh-ed25519@openssh.com': 2,
  'sk-ecdsa-sha2-nistp256@openssh.com': 3,
};

export interface ParsedKey {
  type: string;
  /** The base64 blob as written. */
  blob: string;
}

/** Parse one public key line; a string says what is wrong with it. */
export function parsePublicKey(line: string): ParsedKey | string {
  const parts = line.trim().split(/\s+/);
  const [type = '', blob = ''] = parts;
  if (!KEY_TYPES.has(type))
    return `'${type.slice(0, 40)}' is not an SSH key type (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ...)`;
  if (!blob) return `the ${type} key has no key data after its type`;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(blob) || blob.length % 4 !== 0)
    return `the key data of the ${type} key is not base64`;
  const fields = wireStrings(Buffer.from(blob, 'base64'));
  if (!fields || !fields.length)
    return `the key data of the ${type} key is cut short or malformed (was it copied whole?)`;
  const inner = fields[0]!.toString('latin1');
  if (inner !== type) return `the key data says ${JSON.stringify(inner.slice(0, 40))} but the line says ${type}`;
  if (fields.length !== 1 + FIELDS[type]!)
    return `the key data of the ${type} key is cut short or malformed (was it copied whole?)`;
  if (type === 'ssh-ed25519' && fields[1]!.length !== 32)
    return 'the ed25519 key data has the wrong length (was it copied whole?)';
  return { type, blob };
}

const str = (b: Buffer) => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
};
/** An SSH mpint from an unsigned big-endian number. */
const mpint = (b: Buffer) => {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return str(v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
};
const b64u = (s: string | undefined) => Buffer.from(s ?? '', 'base64url');

/** The public key (type and base64 blob) of a private key file; a string says why it cannot be read. */
export function publicOfPrivate(file: string): ParsedKey | string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'the file does not exist' : `cannot read it (${code ?? (e as Error).message})`;
  }
  const openssh = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (openssh) {
    // openssh-key-v1: magic, cipher, kdf, kdf options, key count, then the public keys in the clear (even when encrypted).
    const raw = Buffer.from(openssh[1]!.replace(/\s+/g, ''), 'base64');
    const magic = 'openssh-key-v1\0';
    if (raw.subarray(0, magic.length).toString('latin1') !== magic) return 'not an OpenSSH private key';
    let at = magic.length;
    const next = (): Buffer | undefined => {
      if (at + 4 > raw.length) return undefined;
      const n = raw.readUInt32BE(at);
      if (at + 4 + n > raw.length) return undefined;
      at += 4 + n;
      return raw.subarray(at - n, at);
    };
    next(); // cipher
    next(); // kdf
    next(); // kdf options
    at += 4; // number of keys
    const pub = next();
    const type = pub && wireStrings(pub)?.[0]?.toString('latin1');
    if (!pub || !type) return 'a malformed OpenSSH private key';
    return { type, blob: pub.toString('base64') };
  }
  try {
    const jwk = createPublicKey(createPrivateKey(text)).export({ format: 'jwk' });
    if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519')
      return {
        type: 'ssh-ed25519',
        blob: Buffer.concat([str(Buffer.from('ssh-ed25519')), str(b64u(jwk.x))]).toString('base64'),
      };
    if (jwk.kty === 'RSA')
      return {
        type: 'ssh-rsa',
        blob: Buffer.concat([str(Buffer.from('ssh-rsa')), mpint(b64u(jwk.e)), mpint(b64u(jwk.n))]).toString('base64'),
      };
    if (jwk.kty === 'EC') {
      const curve = { 'P-256': 'nistp256', 'P-384': 'nistp384', 'P-521': 'nistp521' }[jwk.crv ?? ''];
      if (!curve) return `an EC key on curve ${jwk.crv}, which SSH does not use`;
      const type = `ecdsa-sha2-${curve}`;
      const point = Buffer.concat([Buffer.from([4]), b64u(jwk.x), b64u(jwk.y)]);
      return {
        type,
        blob: Buffer.concat([str(Buffer.from(type)), str(Buffer.from(curve)), str(point)]).toString('base64'),
      };
    }
    return `a ${jwk.kty} key, which SSH does not use`;
  } catch (e) {
    const msg = (e as Error).message;
    if (/passphrase|encrypted|bad decrypt/i.test(msg)) return 'encrypted';
    return 'not a private key pgha can read (OpenSSH or PEM)';
  }
}
