// How pgha reaches a member's Patroni REST API: on the member's own address (Patroni listens there only), over
// HTTPS with the inventory's CA when tls_enabled, else plain HTTP. The programs under templates/patroni/ share one
// client (api-client.py.hbs); GETs from TypeScript run the same client on the member (patroniGet).
import type { Host, Inventory } from '../../inventory/types.js';
import type { Transport } from '../../engine/types.js';
import { RemoteError } from '../../util/errors.js';
import { mask } from '../../engine/mask.js';
import { parseHttpResponse, python3, renderProgram, type HttpResponse } from '../common.js';
import { tlsPaths, type TlsPaths } from '../tls/files.js';
import { tlsEnabled } from '../tls/settings.js';
import { patroniSettings } from './settings.js';

/** Where a member keeps its copies of the CA, its certificate and key (owned by postgres: Patroni and PostgreSQL). */
export const PATRONI_TLS_DIR = '/etc/patroni/tls';

export interface PatroniApi {
  address: string;
  port: number;
  /** The files to verify the member and to present as a client; undefined: plain HTTP. */
  tls?: TlsPaths;
  /** Only this scheme (no fallback to the other while a member switches). */
  strict?: boolean;
}

export function patroniApi(inv: Pick<Inventory, 'file' | 'cluster'>, host: Host): PatroniApi {
  const s = patroniSettings(inv, host);
  return {
    address: host.address,
    port: s.apiPort,
    ...(tlsEnabled(inv, host) ? { tls: tlsPaths(PATRONI_TLS_DIR) } : {}),
  };
}

/** The base URL the inventory wants, e.g. https://10.0.0.11:8008. */
export function apiUrl(api: PatroniApi): string {
  return `${api.tls ? 'https' : 'http'}://${api.address}:${api.port}`;
}

/** The Python lines that define `base` and `urlopen()` for a program talking to this API. */
export function apiClientLines(api: PatroniApi): string {
  const other = `${api.tls ? 'http' : 'https'}://${api.address}:${api.port}`;
  // Without TLS the https fallback still needs the CA to verify: it is where the member keeps it.
  const tls = api.tls ?? tlsPaths(PATRONI_TLS_DIR);
  return renderProgram('patroni/api-client.py.hbs', {
    bases: api.strict ? [apiUrl(api)] : [apiUrl(api), other],
    tls,
  });
}

/** A script printing the HTTP answer to GET `path` (status line, blank line, body), as parseHttpResponse reads it. */
export function apiGetScript(api: PatroniApi, path: string, timeoutSec = 4): string {
  const program = [
    'import sys',
    apiClientLines(api),
    'try:',
    `    r = urlopen(base + ${JSON.stringify(path)}, timeout=${timeoutSec})`,
    '    code, body = r.status, r.read()',
    'except urllib.error.HTTPError as e:',
    '    code, body = e.code, e.read()',
    'sys.stdout.write("HTTP/1.0 %d\\r\\n\\r\\n" % code)',
    'sys.stdout.write(body.decode("utf-8", "replace"))',
  ].join('\n');
  return python3(program);
}

/** GET on a member's REST API, run on that member. */
export async function apiGet(t: Transport, api: PatroniApi, path: string): Promise<HttpResponse> {
  const r = await t.exec(apiGetScript(api, path), { timeoutMs: 20_000 });
  if (r.code !== 0 && r.stdout === '')
    throw new RemoteError(t.host.name, `GET ${apiUrl(api)}${path} failed`, mask(r.stderr.trim()));
  return parseHttpResponse(r.stdout);
}

/** GET on the REST API of the member `host` (the transport's host), as the inventory configures it. */
export function patroniGet(
  t: Transport,
  inv: Pick<Inventory, 'file' | 'cluster'>,
  host: Host,
  path: string,
): Promise<HttpResponse> {
  return apiGet(t, patroniApi(inv, host), path);
}
