// A fake Patroni 3.0.2 REST API on 127.0.0.1, one server per member: GET /patroni and /cluster, POST /restart,
// /switchover, /failover and /reinitialize, GET and PATCH /config (Basic auth required on POST and PATCH, as with restapi.authentication). Every request is
// recorded, in arrival order.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Host } from '../../src/inventory/types.js';
import type { PatroniApi } from '../../src/components/patroni/api.js';
import type { TlsPaths } from '../../src/components/tls/files.js';

/** What POST /restart does to this member: comes back running, fails to start, or never comes back. */
export type RestartOutcome = 'ok' | 'start failed' | 'hangs';

export interface FakeMember {
  name: string;
  /** /cluster role; /patroni reports the leader as "master", as 3.0.2 does. */
  role: 'leader' | 'replica' | 'sync_standby';
  state: string;
  pendingRestart: boolean;
  restart: RestartOutcome;
  /** After a successful restart, this many GET /patroni still see "restarting" (default 1). */
  restartingPolls: number;
  port: number;
  /** Bytes behind the leader (/cluster lag of a replica; default 0). */
  lag: number | 'unknown';
  nofailover: boolean;
  /** Listed as streaming in the leader's GET /patroni replication (default true for running replicas). */
  streaming: boolean;
}

export interface FakeCall {
  member: string;
  method: string;
  path: string;
  auth?: string;
  body?: string;
  /** Over HTTPS: whether the client presented a certificate of the CA. */
  clientCert?: boolean;
}

/** HTTPS as Patroni serves it with certfile, keyfile, cafile and verify_client optional. */
export interface FakeTls {
  ca: string;
  cert: string;
  key: string;
}

export interface FakePatroni {
  members: FakeMember[];
  calls: FakeCall[];
  /** The DCS settings GET /config shows (one for the cluster; PATCH merges into it, null deletes). */
  config: Record<string, any>;
  /** Names of members that got POST /restart, in order. */
  restarts(): string[];
  /** Stop one member's REST API: its port then refuses connections, as a stopped Patroni's does. */
  stop(name: string): Promise<void>;
  close(): Promise<void>;
}

export type MemberSpec = Pick<FakeMember, 'name' | 'role' | 'pendingRestart'> &
  Partial<Pick<FakeMember, 'restart' | 'state' | 'restartingPolls' | 'lag' | 'nofailover' | 'streaming'>>;

export async function startFakePatroni(spec: MemberSpec[], o: { tls?: FakeTls } = {}): Promise<FakePatroni> {
  const calls: FakeCall[] = [];
  const members: FakeMember[] = spec.map((m) => ({
    state: 'running',
    restart: 'ok',
    restartingPolls: 1,
    port: 0,
    lag: 0,
    nofailover: false,
    streaming: true,
    ...m,
  }));
  const servers: Server[] = [];
  const dcs = {
    config: {
      ttl: 30,
      loop_wait: 10,
      maximum_lag_on_failover: 1048576,
      postgresql: { parameters: { max_connections: 100 } },
    } as Record<string, any>,
  };
  // In synchronous mode, as Patroni does: the first synchronous_node_count replicas (those already synchronous
  // first) are synchronous standbys.
  const syncRoles = () => {
    if (!dcs.config.synchronous_mode) return;
    const replicas = members
      .filter((x) => x.role === 'replica' || x.role === 'sync_standby')
      .sort((a, b) => Number(b.role === 'sync_standby') - Number(a.role === 'sync_standby'));
    replicas.forEach((x, i) => (x.role = i < (dcs.config.synchronous_node_count ?? 1) ? 'sync_standby' : 'replica'));
  };
  const clusterJson = () =>
    JSON.stringify({
      members: members.map((m) => ({
        name: m.name,
        role: m.role,
        state: m.state,
        api_url: `http://127.0.0.1:${m.port}/patroni`,
        host: '127.0.0.1',
        port: 5432,
        timeline: 1,
        ...(m.role !== 'leader' ? { lag: m.lag } : {}),
        ...(m.nofailover ? { tags: { nofailover: true } } : {}),
        ...(m.pendingRestart ? { pending_restart: true } : {}),
      })),
    });
  for (const m of members) {
    let afterRestart = 0; // GETs answered since a successful restart (the first one still sees "restarting")
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        calls.push({
          member: m.name,
          method: req.method ?? '',
          path: req.url ?? '',
          auth: req.headers.authorization,
          body,
          ...(o.tls ? { clientCert: (req.socket as TLSSocket).authorized } : {}),
        });
        const send = (code: number, text: string, type = 'application/json') => {
          res.writeHead(code, { 'Content-Type': type });
          res.end(text);
        };
        // verify_client optional: the unsafe methods want a client certificate of the CA.
        if (o.tls && req.method !== 'GET' && !(req.socket as TLSSocket).authorized)
          return send(403, 'client certificate required', 'text/plain');
        if (req.method === 'GET' && req.url === '/patroni') {
          if (m.state === 'restarting' && ++afterRestart > m.restartingPolls) m.state = 'running';
          return send(
            200,
            JSON.stringify({
              state: m.state,
              role: m.role === 'leader' ? 'master' : 'replica',
              patroni: { version: '3.0.2', scope: 'demo' },
              ...(m.pendingRestart ? { pending_restart: true } : {}),
              ...(m.role === 'leader'
                ? {
                    replication: members
                      .filter((r) => r.role !== 'leader' && r.state === 'running' && r.streaming)
                      .map((r) => ({ application_name: r.name, state: 'streaming', usename: 'replicator' })),
                  }
                : {}),
            }),
          );
        }
        if (req.method === 'GET' && req.url === '/cluster') return send(200, clusterJson());
        if (req.method === 'GET' && req.url === '/config') return send(200, JSON.stringify(dcs.config));
        if (req.method === 'PATCH' && req.url === '/config') {
          if (!req.headers.authorization) return send(401, 'no auth header received', 'text/plain');
          // Patroni's patch_config: maps merge key by key, null deletes a key, anything else replaces it.
          patch(dcs.config, JSON.parse(body) as Record<string, any>);
          syncRoles();
          return send(200, JSON.stringify(dcs.config));
        }
        if (req.method === 'POST' && (req.url === '/switchover' || req.url === '/failover')) {
          if (!req.headers.authorization) return send(401, 'no auth header received', 'text/plain');
          const b = JSON.parse(body || '{}') as { leader?: string; candidate?: string };
          const leader = members.find((x) => x.role === 'leader');
          if (b.leader && leader?.name !== b.leader) return send(412, 'leader name does not match', 'text/plain');
          const cand = members.find((x) => x.name === b.candidate);
          if (!cand) return send(412, 'candidate does not exists', 'text/plain');
          if (dcs.config.synchronous_mode && leader && cand.role !== 'sync_standby')
            return send(412, 'candidate name does not match with sync_standby', 'text/plain');
          if (leader) {
            leader.role = 'replica';
            leader.pendingRestart = false; // demoted: PostgreSQL restarted as a replica
          }
          cand.role = 'leader';
          syncRoles();
          return send(200, `Successfully ${req.url === '/failover' ? 'failed' : 'switched'} over to "${cand.name}"`);
        }
        if (req.method === 'POST' && req.url === '/reinitialize') {
          if (!req.headers.authorization) return send(401, 'no auth header received', 'text/plain');
          if (m.role === 'leader') return send(503, 'I am the leader, can not reinitialize', 'text/plain');
          m.state = 'restarting';
          afterRestart = 0;
          return send(200, 'reinitialize started', 'text/plain');
        }
        if (req.method === 'POST' && req.url === '/restart') {
          if (!req.headers.authorization) return send(401, 'no auth header received', 'text/plain');
          if (m.restart === 'start failed') {
            m.state = 'start failed';
            return send(503, 'restart failed', 'text/plain');
          }
          m.pendingRestart = false;
          m.state = m.restart === 'ok' ? 'restarting' : 'starting';
          afterRestart = 0;
          return send(200, 'restarted successfully', 'text/plain');
        }
        send(404, '', 'text/plain');
      });
    };
    const server = o.tls
      ? createHttpsServer({ ...o.tls, requestCert: true, rejectUnauthorized: false }, handler)
      : createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    m.port = (server.address() as AddressInfo).port;
    servers.push(server);
  }
  return {
    members,
    calls,
    get config() {
      return dcs.config;
    },
    set config(c: Record<string, any>) {
      dcs.config = c;
    },
    stop: (name) => {
      const s = servers[members.findIndex((m) => m.name === name)]!;
      return new Promise<void>((r) => s.close(() => r()));
    },
    restarts: () => calls.filter((c) => c.method === 'POST' && c.path === '/restart').map((c) => c.member),
    close: async () => {
      await Promise.all(servers.filter((s) => s.listening).map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}

function patch(config: Record<string, any>, data: Record<string, any>): void {
  for (const [k, v] of Object.entries(data)) {
    if (v === null) delete config[k];
    else if (typeof v === 'object' && !Array.isArray(v) && typeof config[k] === 'object' && config[k] !== null)
      patch(config[k], v);
    else config[k] = structuredClone(v);
  }
}

/** A fake member's API as pgha's programs reach it: 127.0.0.1, plain HTTP unless `tls` names the client's files. */
export function fakeApi(port: number, tls?: TlsPaths): PatroniApi {
  return { address: '127.0.0.1', port, ...(tls ? { tls } : {}) };
}

/** Points an inventory host at a fake member: its REST API on 127.0.0.1:`port`, plain HTTP. */
export function pointAtFake(h: Host, port: number): void {
  h.address = '127.0.0.1';
  h.vars = { ...h.vars, patroni_restapi_port: port, tls_enabled: false };
}
