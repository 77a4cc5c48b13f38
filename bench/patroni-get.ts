// GET on a member's Patroni REST API from the control machine, as the benchmarks and end-to-end tests read it:
// over HTTPS, trusting the inventory's CA only, when the inventory has one (tls_enabled, the default), else plain
// HTTP. A fetch-like answer.
import { existsSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import type { Inventory } from '../src/inventory/types.js';
import { tlsDir } from '../src/components/tls/ca.js';

export interface PatroniAnswer {
  ok: boolean;
  status: number;
  json(): Promise<unknown>;
  text(): Promise<string>;
}

export function patroniGet(
  inv: Pick<Inventory, 'file'>,
  address: string,
  path: string,
  o: { port?: number; timeoutMs?: number } = {},
): Promise<PatroniAnswer> {
  const port = o.port ?? 8008;
  const timeoutMs = o.timeoutMs ?? 2000;
  const caFile = `${tlsDir(inv)}/ca.crt`;
  if (!existsSync(caFile)) return fetch(`http://${address}:${port}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  const ca = readFileSync(caFile, 'utf8');
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: address, port, path, ca, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        resolve({
          ok: status >= 200 && status < 300,
          status,
          json: async () => JSON.parse(body) as unknown,
          text: async () => body,
        });
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.end();
  });
}
