// The Proxmox API client: proxmox-api with TLS trust, structured errors, retries with backoff and task waiting.
import { readFileSync } from 'node:fs';
import proxmoxApi, { ProxmoxEngine, type Proxmox } from 'proxmox-api';
import { Agent, fetch as undiciFetch } from 'undici';
import type { ProxmoxApiSettings } from '../../inventory/types.js';
import { UserError } from '../../util/errors.js';
import { addSecret, mask } from '../../engine/mask.js';

/** An API call that failed: status 0 means the request got no HTTP answer (connection, TLS, timeout). */
export class PveApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly reason: string,
    /** The full server message (body `message`, else the reason phrase). */
    readonly text: string,
    readonly errors: Record<string, string> = {},
    readonly causeText?: string,
  ) {
    super(`${method} ${path}: ${status ? `${status} ${reason}` : `no answer (${causeText ?? reason})`}`);
    this.name = 'PveApiError';
  }
  /** Message and every parameter error, for matching and for the user. */
  get all(): string {
    const errs = Object.entries(this.errors).map(([k, v]) => `${k}: ${String(v).trim()}`);
    return [this.text.trim(), ...errs].filter(Boolean).join('; ');
  }
}

/** A worker task (UPID) that stopped with an error. */
export class PveTaskError extends Error {
  constructor(
    readonly upid: string,
    readonly exitstatus: string,
    readonly log: string[],
  ) {
    super(`task ${upid} failed: ${exitstatus}`);
    this.name = 'PveTaskError';
  }
}

/** Parse the plain Error that proxmox-api throws into status, reason and body. */
export function parseApiError(method: string, path: string, e: unknown): PveApiError {
  const msg = e instanceof Error ? e.message : String(e);
  let m =
    / return Error (\d{3}) (.*?): (\{.*\})$/s.exec(msg) ??
    / connection failed with (\d{3}) (.*?) return: (\{.*\})$/s.exec(msg);
  if (m) {
    let body: { message?: string; errors?: unknown } = {};
    try {
      body = JSON.parse(m[3]!) as typeof body;
    } catch {
      /* keep the reason */
    }
    const errors = body.errors && typeof body.errors === 'object' ? (body.errors as Record<string, string>) : {};
    const text = typeof body.message === 'string' && body.message ? body.message : m[2]!;
    return new PveApiError(method, path, Number(m[1]), m[2]!, text, errors);
  }
  m = /^FaILED to call \S+ \S+(?: cause by:(.*))?$/s.exec(msg);
  const cause = (e as { cause?: { message?: string; cause?: { message?: string; code?: string } } }).cause;
  const causeText = m?.[1] ?? cause?.cause?.message ?? cause?.message ?? msg;
  return new PveApiError(method, path, 0, 'no answer', causeText, {}, causeText);
}

/** A failure worth retrying: lock timeouts, a worker that could not start, gateway/proxy errors, no answer. */
export function isTransient(e: unknown): boolean {
  if (e instanceof PveApiError) {
    if (e.status === 0) return !/certificate|self[- ]signed|ECONNREFUSED|ENOTFOUND|bad port/i.test(e.causeText ?? '');
    if (/got timeout|got lock request timeout|got no worker upid|VM is locked \((clone|create)\)/.test(e.all))
      return true;
    return [502, 503, 504, 595, 599].includes(e.status);
  }
  if (e instanceof PveTaskError) return /got timeout|got lock request timeout/.test(e.exitstatus);
  return false;
}

export interface ClientOptions {
  /** Base delay of the retry backoff (doubles each time). Default 1000 ms. */
  backoffMs?: number;
  /** Attempts for a transient failure. Default 5. */
  attempts?: number;
  /** Poll interval for task status. Default 1000 ms. */
  pollMs?: number;
  /** Per-request timeout. Default 60000 ms. */
  queryTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface PveClient {
  api: Proxmox.Api;
  settings: ProxmoxApiSettings;
  opts: Required<Omit<ClientOptions, 'log'>> & { log: (line: string) => void };
  /** Run fn, retrying transient failures with exponential backoff. */
  retry<T>(what: string, fn: () => Promise<T>): Promise<T>;
  /** Wait until a task stops; throw PveTaskError unless it ended OK or with warnings. */
  waitTask(upid: string, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function tokenSecret(settings: ProxmoxApiSettings): string {
  const env = settings.tokenSecretEnv;
  const secret = process.env[env];
  if (!secret) {
    throw new UserError(
      `the Proxmox API token secret is not set: environment variable ${env} is empty`,
      `export ${env}=<secret of token ${settings.tokenId}> (the UUID shown once when the token was created with pveum user token add)`,
      { field: 'provider.proxmox.api.token_secret_env' },
    );
  }
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(secret)) {
    throw new UserError(
      `the value of ${env} is not a Proxmox API token secret (a lowercase UUID)`,
      `export ${env} with the secret shown when the token ${settings.tokenId} was created`,
    );
  }
  if (!/^[^@!]+@[^@!]+![A-Za-z][A-Za-z0-9.\-_]+$/.test(settings.tokenId)) {
    throw new UserError(
      `the Proxmox token id ${settings.tokenId} is not of the form user@realm!tokenname`,
      'set provider.proxmox.api.token_id, e.g. pgha@pve!provision',
      { field: 'provider.proxmox.api.token_id' },
    );
  }
  addSecret(secret);
  return secret;
}

/** Build a client. TLS is verified; caFile trusts that CA for these calls only; verifyTls=false is explicit opt-out. */
export function createClient(settings: ProxmoxApiSettings, options: ClientOptions = {}): PveClient {
  const secret = tokenSecret(settings);
  const opts = {
    backoffMs: options.backoffMs ?? 1000,
    attempts: options.attempts ?? 5,
    pollMs: options.pollMs ?? 1000,
    queryTimeoutMs: options.queryTimeoutMs ?? 60_000,
    log: options.log ?? (() => {}),
  };
  let ca: string | undefined;
  if (settings.caFile) {
    try {
      ca = readFileSync(settings.caFile, 'utf8');
    } catch (e) {
      throw new UserError(
        `cannot read the Proxmox CA file ${settings.caFile}: ${(e as Error).message}`,
        'copy /etc/pve/pve-root-ca.pem from the Proxmox node and set provider.proxmox.api.ca_file to its path',
        { field: 'provider.proxmox.api.ca_file' },
      );
    }
  }
  const connect = settings.verifyTls === false ? { rejectUnauthorized: false } : ca ? { ca } : undefined;
  const dispatcher = connect ? new Agent({ connect }) : undefined;
  const engine = new ProxmoxEngine({
    host: settings.host,
    port: settings.port || 8006,
    tokenID: settings.tokenId,
    tokenSecret: secret,
    queryTimeout: opts.queryTimeoutMs,
    fetch: dispatcher ? (url, init) => undiciFetch(url, { ...init, dispatcher }) : undefined,
  });
  // Every call goes through proxmox-api's engine; this wrapper turns its plain errors into PveApiError and logs.
  const requester = {
    async doRequest(method: string, path: string, tpl: string, params?: Record<string, unknown>): Promise<unknown> {
      try {
        return await engine.doRequest(method, path, tpl, params);
      } catch (e) {
        const err = parseApiError(method.toUpperCase(), decodeURIComponent(path.replace(/^\/api2\/json/, '')), e);
        opts.log(mask(`proxmox: ${err.message}${err.status ? `: ${err.all}` : ''}`));
        throw err;
      }
    },
  };
  const api = proxmoxApi(requester);

  const retry = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!isTransient(e) || attempt >= opts.attempts) throw e;
        const delay = opts.backoffMs * 2 ** (attempt - 1);
        opts.log(
          `proxmox: ${what}: transient failure (${e instanceof PveApiError ? e.all : (e as Error).message}), retry ${attempt}/${opts.attempts - 1} in ${delay} ms`,
        );
        await sleep(delay);
      }
    }
  };

  const waitTask = async (upid: string, timeoutMs = 30 * 60_000): Promise<string> => {
    const node = /^UPID:([^:]+):/.exec(upid)?.[1];
    if (!node) throw new PveApiError('GET', `/tasks/${upid}`, 0, 'bad upid', `not a task id: ${upid}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = await retry('task status', () => api.nodes.$(node).tasks.$(upid).status.$get());
      if (st.status === 'stopped') {
        const exit = String(st.exitstatus ?? 'unexpected status');
        if (exit === 'OK' || /^WARNINGS: \d+$/.test(exit)) return exit;
        let log: string[] = [];
        try {
          const lines = (await api.nodes.$(node).tasks.$(upid).log.$get({ start: 0, limit: 0 })) as {
            n: number;
            t: string;
          }[];
          log = lines.map((l) => l.t).slice(-50);
        } catch {
          /* the status alone still says what failed */
        }
        throw new PveTaskError(upid, exit, log);
      }
      if (Date.now() > deadline)
        throw new PveTaskError(upid, `still running after ${Math.round(timeoutMs / 1000)} s`, []);
      await sleep(opts.pollMs);
    }
  };

  return {
    api,
    settings,
    opts,
    retry,
    waitTask,
    close: async () => {
      await dispatcher?.close();
    },
  };
}
