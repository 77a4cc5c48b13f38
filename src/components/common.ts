// Helpers shared by the components: role lookups, programs from templates/, journal tails, HTTP over bash,
// JSON with uint64.
import type { Host, Role } from '../inventory/types.js';
import type { Transport } from '../engine/types.js';
import { RemoteError, UserError } from '../util/errors.js';
import { shq } from '../engine/quote.js';
import { mask } from '../engine/mask.js';
import { renderTemplate } from '../engine/template.js';

export function withRole(hosts: Host[], role: Role): Host[] {
  return hosts.filter((h) => h.roles.includes(role));
}

/** A program kept under templates/, rendered strictly, without the file's final newline. */
export function renderProgram(name: string, vars: Record<string, unknown> = {}): string {
  return renderTemplate(name, vars).replace(/\n$/, '');
}

/** `python3 -c PROGRAM`: the program travels quoted in the script, its secrets (if any) on stdin. */
export function python3(program: string): string {
  return `python3 -c ${shq(program)}`;
}

/** The journalctl command printing a unit's log: its last `lines` lines, or those `since` (journalctl's syntax). */
export function journalCmd(unit: string, o: { lines?: number; since?: string }): string {
  const range = o.since !== undefined ? `--since ${shq(o.since)}` : `-n ${o.lines ?? 30}`;
  return `journalctl -u ${shq(unit)} ${range} --no-pager`;
}

/** Last lines of a unit's journal, for CheckError logs (never throws). */
export async function journal(t: Transport | undefined, unit: string, lines = 30): Promise<string> {
  if (!t) return '';
  try {
    const r = await t.exec(`${journalCmd(unit, { lines })} 2>&1 || true`, { timeoutMs: 15_000 });
    return mask(r.stdout.trim());
  } catch {
    return '';
  }
}

/**
 * A shell snippet that prints an HTTP/1.0 GET response (status line, headers, body) using only bash's
 * /dev/tcp and coreutils' timeout: works on every Debian host without curl or python.
 */
export function httpGetScript(host: string, port: number, path: string, timeoutSec = 4): string {
  const req = `GET ${path} HTTP/1.0\\r\\nHost: ${host}\\r\\nConnection: close\\r\\n\\r\\n`;
  const inner = renderProgram('common/http-get.sh.hbs', { host, port, request: shq(req) });
  return `timeout ${timeoutSec} bash -c ${shq(inner)}`;
}

export interface HttpResponse {
  status: number;
  body: string;
}

export function parseHttpResponse(raw: string): HttpResponse {
  const m = /^HTTP\/\d(?:\.\d)?\s+(\d{3})/.exec(raw);
  if (!m) return { status: 0, body: raw };
  const sep = raw.indexOf('\r\n\r\n');
  const sep2 = raw.indexOf('\n\n');
  const cut = sep >= 0 ? sep + 4 : sep2 >= 0 ? sep2 + 2 : raw.length;
  const head = raw.slice(0, cut);
  let body = raw.slice(cut);
  // HAProxy's stats page answers HTTP/1.1 chunked even to an HTTP/1.0 request.
  if (/^transfer-encoding:\s*chunked/im.test(head)) body = dechunk(body);
  return { status: Number(m[1]), body };
}

function dechunk(body: string): string {
  let out = '';
  let pos = 0;
  for (;;) {
    const nl = body.indexOf('\r\n', pos);
    if (nl < 0) break;
    const size = parseInt(body.slice(pos, nl).split(';')[0]!.trim(), 16);
    if (!Number.isFinite(size) || size === 0) break;
    // Sizes count bytes; the stats CSV and Patroni JSON are ASCII, so characters = bytes here.
    out += body.slice(nl + 2, nl + 2 + size);
    pos = nl + 2 + size + 2;
  }
  return out;
}

/** GET over a host's transport (the host makes the request). */
export async function httpGet(t: Transport, host: string, port: number, path: string): Promise<HttpResponse> {
  const r = await t.exec(httpGetScript(host, port, path), { timeoutMs: 15_000 });
  if (r.code !== 0 && r.stdout === '') {
    throw new RemoteError(t.host.name, `GET http://${host}:${port}${path} failed`, mask(r.stderr.trim()));
  }
  return parseHttpResponse(r.stdout);
}

/** The value when it is a plain JSON object, else an empty one (for parsers of JSON from other programs). */
export function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/**
 * JSON.parse that keeps integers beyond 2^53 exact, as decimal strings (etcd's uint64 ids). Only numbers
 * outside strings are touched.
 */
export function parseJsonBig(text: string): unknown {
  let out = '';
  let inStr = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inStr) {
      out += c;
      if (c === '\\') {
        out += text[++i] ?? '';
      } else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') {
      inStr = true;
      out += c;
      continue;
    }
    if (c >= '0' && c <= '9' && !/[0-9.eE+-]$/.test(out)) {
      let j = i;
      while (j < text.length && /[0-9]/.test(text[j]!)) j++;
      const digits = text.slice(i, j);
      const next = text[j] ?? '';
      if (digits.length >= 16 && next !== '.' && next !== 'e' && next !== 'E') {
        out += `"${digits}"`;
        i = j - 1;
        continue;
      }
    }
    out += c;
  }
  return JSON.parse(out);
}

/** A decimal (or number) uint64 as lower-case hex, the way etcdctl's simple output shows member ids. */
export function toHexId(v: unknown): string {
  if (typeof v === 'string' && /^[0-9]+$/.test(v)) return BigInt(v).toString(16);
  if (typeof v === 'number') return BigInt(v).toString(16);
  return String(v ?? '');
}

export function requireVip(inventoryVip: string | undefined, file: string): string {
  if (!inventoryVip) {
    throw new UserError('the inventory has haproxy hosts but no vip', 'set vip: to a free address in the subnet', {
      file,
      field: 'vip',
    });
  }
  return inventoryVip;
}

/** Text of a waitFor value that may be an error thrown inside the poll. */
export function errText(v: unknown): string {
  return v instanceof Error ? v.message : String(v);
}
