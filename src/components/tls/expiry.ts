// How long the certificates on a host remain valid: the copies the services use (read from the host, parsed
// here), for `pgha status`. A certificate that expires within RENEW_DAYS is issued again by `pgha up`.
import { X509Certificate } from 'node:crypto';
import type { Transport } from '../../engine/types.js';
import { shq } from '../../engine/quote.js';

export interface CertExpiry {
  path: string;
  /** ISO time the certificate stops being valid. */
  notAfter: string;
  /** Whole days from `now` until then (negative: expired). */
  daysLeft: number;
}

const MARK = '---pgha-cert ';

/** One script that prints every readable certificate of `paths`, each after a marker line with its path. */
export function certScript(paths: string[]): string {
  return `for f in ${paths.map(shq).join(' ')}; do [ -r "$f" ] && { echo "${MARK}$f"; cat "$f"; echo; }; done; true`;
}

/** The expiry of each certificate certScript printed (an unreadable PEM is left out). */
export function parseCerts(stdout: string, now = Date.now()): CertExpiry[] {
  const out: CertExpiry[] = [];
  for (const part of stdout.split(MARK).slice(1)) {
    const nl = part.indexOf('\n');
    const path = part.slice(0, nl).trim();
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(part.slice(nl + 1))?.[0];
    if (!pem) continue;
    try {
      const end = new Date(new X509Certificate(pem).validTo);
      out.push({ path, notAfter: end.toISOString(), daysLeft: Math.floor((end.getTime() - now) / 86_400_000) });
    } catch {
      // not a certificate: nothing to show
    }
  }
  return out;
}

/** The certificates at `paths` on the transport's host. */
export async function certsOn(t: Transport, paths: string[], now = Date.now()): Promise<CertExpiry[]> {
  const r = await t.exec(certScript(paths), { timeoutMs: 15_000 });
  return parseCerts(r.stdout, now);
}
