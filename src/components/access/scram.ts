// Whether a stored SCRAM-SHA-256 verifier (pg_authid.rolpassword: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:
// <ServerKey>, base64) belongs to a password, without changing anything: the verifier is computed again with the
// stored salt and iterations (scramVerifier, the one pgha sends PostgreSQL instead of a clear-text password).
import { timingSafeEqual } from 'node:crypto';
import { scramVerifier } from '../pgbouncer/auth.js';

export { scramVerifier };

/** The stored verifier was made from `password` (false for anything that is no SCRAM verifier: md5, null). */
export function scramMatches(password: string, verifier: string | null | undefined): boolean {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.exec(verifier ?? '');
  if (!m) return false;
  const again = Buffer.from(scramVerifier(password, Buffer.from(m[2]!, 'base64'), Number(m[1])));
  const stored = Buffer.from(verifier!);
  return again.length === stored.length && timingSafeEqual(again, stored);
}
