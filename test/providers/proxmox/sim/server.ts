// A Proxmox VE API simulator over HTTPS on 127.0.0.1: auth, permission checks from the schema, validation against
// the PVE API schema subset (invalid requests are answered 400/501 and recorded), PVE's envelope and reason phrases, fault hooks.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiSchema, SUBSET_PATH } from './schema.js';
import { handlers } from './handlers.js';
import type { Hooks, SimEnv } from './vms.js';
import { ClusterState, PveFail } from './state.js';

export type { SimVmInfo, Hooks } from './vms.js';
export { ALL_PRIVS } from './state.js';

export interface SimOptions {
  nodes?: string[];
  tokenId?: string;
  secret?: string;
  /** storage → nodes where it is enabled */
  storages?: Record<string, string[]>;
  /** storage → content types / active / shared (default images,rootdir, active, not shared). */
  storageInfo?: Record<string, { content?: string; active?: boolean; shared?: boolean }>;
  /** node → bridges (default vmbr0 on every node). */
  bridges?: Record<string, string[]>;
  templates?: {
    vmid: number;
    node: string;
    name: string;
    storage: string;
    diskSize?: string;
    tags?: string;
    agent?: boolean;
    bridge?: string;
  }[];
  /** Multiplies lock timeouts and work times (1 = PVE's real 10 s / 1 s lock timeouts). */
  timeScale?: number;
  cloneMs?: number;
  taskMs?: number;
  /** New VMs show status "unknown" and no name in /cluster/resources for this long (pvestatd refresh). */
  rrdDelayMs?: number;
  authDelayMs?: number;
  /** The schema subset to validate against (default: the checked-in apidata-subset.json). */
  schemaFile?: string;
}

export interface RequestRecord {
  method: string;
  path: string;
  params: Record<string, string | string[]>;
  status?: number;
  errors?: Record<string, string>;
  reason?: string;
}

interface Fault {
  method: string;
  path: RegExp;
  kind: 'error' | 'drop';
  status?: number;
  message?: string;
}

const schemas = new Map<string, ApiSchema>();
/** The schema of a subset file, read once; throws at once (with how to restore it) when the file is missing. */
export function apiSchema(file = SUBSET_PATH): ApiSchema {
  let s = schemas.get(file);
  if (!s) schemas.set(file, (s = new ApiSchema(file)));
  return s;
}

function makeCert(dir: string): { key: string; cert: string; caFile: string } {
  const key = join(dir, 'key.pem');
  const caFile = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      caFile,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(caFile, 'utf8'), caFile };
}

export class PveSim {
  readonly st: ClusterState;
  readonly env: SimEnv;
  readonly hooks: Hooks = {};
  readonly requests: RequestRecord[] = [];
  /** Requests that failed schema validation (or hit an unknown path): tests assert this stays empty. */
  readonly invalid: RequestRecord[] = [];
  readonly tokenId: string;
  readonly secret: string;
  caFile = '';
  port = 0;
  /** Called with each authenticated, valid request before it is handled (tests use it to race other clients). */
  onRequest?: (rec: RequestRecord) => void;
  private server?: Server;
  private faults: Fault[] = [];
  private dir = '';
  private readonly authDelayMs: number;
  private schema?: ApiSchema;

  constructor(readonly opts: SimOptions = {}) {
    this.tokenId = opts.tokenId ?? 'pgha@pve!provision';
    this.secret = opts.secret ?? '0f3c2a9e-6b7d-4e21-9a55-3c1d2e4f5a6b';
    const [user, tok] = this.tokenId.split('!') as [string, string];
    this.st = new ClusterState(user, tok, opts.timeScale ?? 1);
    this.env = {
      st: this.st,
      hooks: this.hooks,
      nodes: opts.nodes ?? ['pve1'],
      offline: new Set(),
      storages: opts.storages ?? { 'local-lvm': ['pve1'] },
      storageInfo: opts.storageInfo ?? {},
      bridges: opts.bridges ?? {},
      cloneMs: opts.cloneMs ?? 300,
      taskMs: opts.taskMs ?? 50,
      rrdDelayMs: opts.rrdDelayMs ?? 0,
    };
    for (const t of opts.templates ?? [{ vmid: 9000, node: 'pve1', name: 'debian12-ci', storage: 'local-lvm' }])
      this.st.addTemplate(t);
    this.authDelayMs = opts.authDelayMs ?? 3000;
  }

  async start(): Promise<this> {
    this.schema = apiSchema(this.opts.schemaFile); // before listening: no schema, no simulator
    this.dir = mkdtempSync(join(tmpdir(), 'pvesim-'));
    const { key, cert, caFile } = makeCert(this.dir);
    this.caFile = caFile;
    this.server = createServer({ key, cert }, (req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** The next matching request gets this error instead of being handled (e.g. a lock timeout). */
  failOnce(method: string, path: RegExp, status: number, message: string): void {
    this.faults.push({ method, path, kind: 'error', status, message });
  }
  /** The next matching request is performed, then its connection is closed without an answer. */
  dropResponseOnce(method: string, path: RegExp): void {
    this.faults.push({ method, path, kind: 'drop' });
  }
  /** Take a node down (its API calls answer 595) or bring it back. */
  setOnline(node: string, online: boolean): void {
    if (online) this.env.offline.delete(node);
    else this.env.offline.add(node);
  }
  /** Replace the token's ACL (path → privileges). */
  setAcl(acl: Record<string, string[]>): void {
    this.st.acl = acl;
  }
  /** Requests that changed something (everything but GET). */
  changes(): RequestRecord[] {
    return this.requests.filter((r) => r.method !== 'GET');
  }

  private send(res: ServerResponse, status: number, reason: string, body: unknown): void {
    if (res.destroyed) return;
    const text = JSON.stringify(body);
    res.writeHead(status, reason.split('\n')[0]!.trim() || 'OK', {
      'Content-Type': 'application/json;charset=UTF-8',
      'Content-Length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  private async readParams(req: IncomingMessage, url: URL): Promise<Record<string, string | string[]>> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const sp = req.method === 'GET' || req.method === 'DELETE' ? url.searchParams : new URLSearchParams(body);
    const out: Record<string, string | string[]> = {};
    for (const [k, v] of sp) {
      const prev = out[k];
      out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    return out;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const params = await this.readParams(req, url);
    const raw = url.pathname.replace(/^\/api2\/json/, '');
    const path = raw
      .split('/')
      .map((s) => decodeURIComponent(s))
      .join('/');
    const rec: RequestRecord = { method, path, params };
    this.requests.push(rec);
    // Authentication: PVEAPIToken=USER@REALM!TOKENID=SECRET, split on the last '='.
    const auth = /^PVEAPIToken[= ](.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!auth) return this.sendAuthFail(res, rec, 'No ticket');
    const eq = auth.lastIndexOf('=');
    if (auth.slice(0, eq) !== this.tokenId || auth.slice(eq + 1) !== this.secret)
      return this.sendAuthFail(res, rec, 'Authentication failed!');

    try {
      const v = this.schema!.validate(method, path, params);
      const route = v.route;
      if (!route)
        throw Object.assign(new PveFail(501, `Method '${method} ${path}' not implemented`), { invalid: true });
      const all: Record<string, string> = {};
      for (const [k, val] of Object.entries({ ...params, ...route.pathParams }))
        all[k] = Array.isArray(val) ? val.join(',') : val;
      this.checkPerm(route.info.permissions?.check, all);
      if (!v.ok) throw Object.assign(new PveFail(v.status, v.reason, v.errors), { invalid: true });
      const node = route.pathParams['node'];
      if (node !== undefined && this.env.offline.has(node)) throw new PveFail(595, 'Connection refused');
      this.onRequest?.(rec);
      const fault = this.faults.find((f) => f.method === method && f.path.test(path));
      if (fault) this.faults.splice(this.faults.indexOf(fault), 1);
      if (fault?.kind === 'error') throw new PveFail(fault.status!, fault.message!);
      const h = handlers[`${method} ${route.template}`];
      if (!h) throw Object.assign(new PveFail(501, `Method '${method} ${path}' not implemented`), { invalid: true });
      const data = await h(this.env, all);
      rec.status = 200;
      if (fault?.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      this.send(res, 200, 'OK', { data });
    } catch (e) {
      const f = e instanceof PveFail ? e : new PveFail(500, (e as Error).message);
      rec.status = f.status;
      rec.reason = f.message;
      rec.errors = f.errors;
      if ((e as { invalid?: boolean }).invalid) this.invalid.push(rec);
      const body: Record<string, unknown> = { data: null, message: `${f.message}\n` };
      if (f.errors) body['errors'] = f.errors;
      this.send(res, f.status, f.message, body);
    }
  }

  private sendAuthFail(res: ServerResponse, rec: RequestRecord, reason: string): void {
    rec.status = 401;
    setTimeout(
      () => {
        if (res.destroyed) return;
        res.writeHead(401, reason); // PVE sends no body and no Content-Type on 401
        res.end();
      },
      this.authDelayMs * (this.opts.timeScale ?? 1),
    );
  }

  /** Evaluate a schema permission check: ["perm", path, privs, "any"?, 1?, "require_param"?, p], ["and"|"or", ...]. */
  private checkPerm(check: unknown, p: Record<string, string>): void {
    if (!Array.isArray(check) || !check.length) return;
    const [op, ...rest] = check as [string, ...unknown[]];
    if (op === 'and') {
      for (const c of rest) this.checkPerm(c, p);
    } else if (op === 'or') {
      const fails = rest.filter((c) => {
        try {
          this.checkPerm(c, p);
          return false;
        } catch {
          return true;
        }
      });
      if (fails.length === rest.length) throw new PveFail(403, 'Permission check failed');
    } else if (op === 'perm') {
      const [tpl, privs, ...flags] = rest as [string, string[], ...unknown[]];
      const ri = flags.indexOf('require_param');
      if (ri >= 0 && p[String(flags[ri + 1])] === undefined) throw new PveFail(403, 'Permission check failed');
      const path = tpl.replace(/\{(\w+)\}/g, (_, k: string) => p[k] ?? '');
      this.st.require(path, privs, flags.includes('any'));
    }
  }
}
