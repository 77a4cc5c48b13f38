// End-to-end verification through the VIP: write on the primary port, read back from a replica on the
// replica port, several members on the all-members port. psql runs on a postgres host (no client needed
// on the control machine); the password travels in the environment of that one call and is masked.
import { boundary, parseThroughVip, throughVipScript, type ThroughVip, type ThroughVipPlan } from './through-vip.js';
import { clusterReads } from '../patroni/reads.js';
import { PGHA_DATABASE } from '../access/settings.js';
import { randomBytes } from 'node:crypto';
import type { Component, Step, StepGroupContext, Transport } from '../../engine/types.js';
import type { Host } from '../../inventory/types.js';
import { CheckError, UserError } from '../../util/errors.js';
import { shq } from '../../engine/quote.js';
import { patroniSettings } from '../patroni/settings.js';
import { haproxySettings } from '../haproxy/settings.js';
import { secret } from '../secrets.js';
import { errText, journal, requireVip, withRole } from '../common.js';
import { verifyEtcdCluster } from '../etcd/checks.js';
import { verifyPatroniCluster } from '../patroni/checks.js';
import { verifyHaproxy } from '../haproxy/checks.js';
import { vipReads, vipState, verifyKeepalived } from '../keepalived/checks.js';
import { poolingEnabled } from '../pgbouncer/settings.js';
import { verifyPooledPorts, type PooledResult } from '../pgbouncer/checks.js';
import { verifyBackups } from '../backup/checks.js';
import { repoHost } from '../backup/settings.js';

export interface VerifyReport {
  vip: string;
  client: string; // the host psql ran on
  write: { port: number; server: string; token: string };
  read: { port: number; server: string; inRecovery: boolean; waitedMs: number };
  all: { port: number; connections: number; servers: string[] };
  /** With pgbouncer_enabled: the pooled ports, each answered by a server of the expected role. */
  pooled?: PooledResult[];
  leader?: string;
  vipHolder?: string;
  elapsedMs: number;
}

export const VERIFY_TABLE = 'pgha_verify';

interface Psql {
  t: Transport;
  host: Host;
  /** Write, read back, several connections: one round trip (./through-vip.ts). */
  endToEnd(plan: Omit<ThroughVipPlan, 'psql' | 'password'>): Promise<ThroughVip>;
}

function psqlOn(ctx: StepGroupContext, host: Host, vip: string): Psql {
  const t = ctx.transports.get(host.name)!;
  const s = patroniSettings(ctx.inventory, host);
  const password = secret(ctx, 'postgres_superuser_password');
  // psql through the VIP as the superuser, into pgha's own database (access.roles creates it); the password travels in the script (on stdin), never in argv.
  const psql = (port: number, sql: string) =>
    `psql -X -At -v ON_ERROR_STOP=1 ${shq(`host=${vip} port=${port} user=${s.superuser} dbname=${PGHA_DATABASE} connect_timeout=5`)} -c ${shq(sql)}`;
  return {
    t,
    host,
    endToEnd: async (plan) => {
      const b = boundary();
      const r = await t.exec(throughVipScript({ ...plan, psql, password }, b), {
        secrets: [password],
        timeoutMs: 90_000 + plan.read.timeoutMs,
      });
      const got = parseThroughVip(r.stdout, b);
      if (!got) {
        const why = r.stderr.trim() || `exit ${r.code}`;
        return { write: { code: r.code || 1, out: '', err: `the check's script ended early: ${why}` } };
      }
      return got;
    },
  };
}

async function logsOf(ctx: StepGroupContext, hostName: string | undefined, unit: string): Promise<string> {
  return hostName ? journal(ctx.transports.get(hostName), unit) : '';
}

/** The checks of every layer, with short waits (what each component's own step checks after it applied). */
export async function verifyLayers(ctx: StepGroupContext): Promise<void> {
  const inv = ctx.inventory;
  if (withRole(inv.hosts, 'etcd').every((h) => ctx.transports.has(h.name)))
    await verifyEtcdCluster({ ...ctx, hosts: withRole(inv.hosts, 'etcd') }, 20_000);
  await verifyPatroniCluster(ctx, 30_000);
  await verifyHaproxy({ ...ctx, hosts: withRole(inv.hosts, 'haproxy') }, 20_000);
  await verifyKeepalived(ctx, 15_000);
  const repo = repoHost(inv);
  if (repo && ctx.transports.has(repo.name)) await verifyBackups(ctx, { timeoutMs: 60_000 });
}

/** SQL checks through the VIP: a write on the primary port, a read from a replica, several members on the balanced port. */
export async function verifyCluster(ctx: StepGroupContext): Promise<VerifyReport> {
  const start = Date.now();
  const inv = ctx.inventory;
  const vip = requireVip(inv.vip, inv.file);
  const client = withRole(inv.hosts, 'postgres').find((h) => ctx.transports.has(h.name));
  if (!client)
    throw new UserError('no postgres host is connected to run psql from', 'check that the postgres hosts are up');
  const s = haproxySettings(inv, client);
  if (ctx.check) throw new UserError('verify writes a row through the VIP and cannot run in check mode');
  const verdict = await verifyPatroniCluster(ctx, 30_000);
  const holder = (await vipState(ctx)).holders[0];

  const psql = psqlOn(ctx, client, vip);
  const token = randomBytes(8).toString('hex');

  // Several separate connections through the balanced port.
  const n = Math.max(4, 2 * withRole(inv.hosts, 'postgres').length);
  // 1. Write through the primary port; 2. read it back through the replica port (bounded wait for replication,
  // on the host); 3. several connections through the all-members port: all in one round trip.
  const all = await psql.endToEnd({
    write: {
      port: s.primaryPort,
      sql:
        `create table if not exists ${VERIFY_TABLE} (id bigserial primary key, token text not null, at timestamptz not null default now()); ` +
        `delete from ${VERIFY_TABLE} where at < now() - interval '1 day'; ` +
        `insert into ${VERIFY_TABLE}(token) values ('${token}'); ` +
        `select host(inet_server_addr()) || '|' || pg_is_in_recovery()`,
    },
    read: {
      port: s.replicaPort,
      sql: `select host(inet_server_addr()) || '|' || pg_is_in_recovery() || '|' || (select count(*) from ${VERIFY_TABLE} where token = '${token}')`,
      timeoutMs: 15_000,
      intervalMs: 500,
    },
    many: { port: s.allPort, sql: 'select host(inet_server_addr())', times: n },
  });
  const w = all.write;
  const [wServer = '', wRecovery = ''] = w.out.split('\n').pop()!.split('|');
  if (w.code !== 0 || wRecovery !== 'false') {
    throw new CheckError(
      client.name,
      `write through ${vip}:${s.primaryPort}`,
      'a row written on the primary (pg_is_in_recovery() = false)',
      w.code !== 0 ? w.err || `psql exit ${w.code}` : `server ${wServer} in recovery = ${wRecovery}`,
      await logsOf(ctx, holder, 'haproxy'),
    );
  }

  const r = all.read ?? { code: 1, out: '', err: 'no read after the write', waitedMs: 0 };
  const [server = '', rec = '', count = ''] = r.out.split('|');
  const read = {
    ok: r.code === 0 && rec === 'true' && count === '1',
    value: r.code !== 0 ? r.err : `server ${server} in recovery = ${rec}, rows = ${count}`,
    elapsedMs: r.waitedMs,
  };
  if (!read.ok) {
    throw new CheckError(
      client.name,
      `read through ${vip}:${s.replicaPort}`,
      'the new row, from a server in recovery',
      errText(read.value),
      await logsOf(ctx, verdict.replicas[0]?.name, 'patroni'),
    );
  }
  const rServer = String(read.value).replace(/^server (\S+).*$/, '$1');

  // 3. Several connections through the all-members port reach more than one member.
  const many = all.many ?? { code: 1, out: '', err: 'not run' };
  if (many.code !== 0) {
    throw new CheckError(
      client.name,
      `connect through ${vip}:${s.allPort}`,
      'a connection',
      many.err || `psql exit ${many.code}`,
      await logsOf(ctx, holder, 'haproxy'),
    );
  }
  const servers = many.out.split('\n').filter(Boolean);
  const distinct = [...new Set(servers)].sort();
  if (distinct.length < 2) {
    throw new CheckError(
      client.name,
      `balance through ${vip}:${s.allPort}`,
      `more than one member answering ${n} connections`,
      `only ${distinct.join(', ') || 'none'}`,
      await logsOf(ctx, holder, 'haproxy'),
    );
  }

  // 4. With pooling on: each pooled port reaches, through PgBouncer, a server of its role.
  const pooled = poolingEnabled(inv, client) ? await verifyPooledPorts(ctx, client, vip) : undefined;

  return {
    vip,
    client: client.name,
    write: { port: s.primaryPort, server: wServer, token },
    read: { port: s.replicaPort, server: rServer, inRecovery: true, waitedMs: read.elapsedMs },
    all: { port: s.allPort, connections: n, servers: distinct },
    ...(pooled ? { pooled } : {}),
    leader: verdict.leader?.name,
    vipHolder: holder,
    elapsedMs: Date.now() - start,
  };
}

/** What the checks go through: every layer of the cluster, on all its hosts. */
const EVERY_LAYER = ['etcd', 'patroni', 'access', 'pgbouncer', 'haproxy', 'keepalived', 'backup'];

export const verifyStep: Step = {
  id: 'verify.cluster',
  title: 'Verify the cluster end to end through the VIP',
  needs: EVERY_LAYER,
  resources: () => [],
  // The layer checks it starts with come from the read at the start of the run (when nothing changed since).
  groupReads: (ctx) => [...clusterReads(ctx), ...vipReads(ctx)],
  async verifyGroup(ctx) {
    const r = await verifyCluster(ctx);
    ctx.log(
      `verified: wrote on ${r.write.server} via ${r.vip}:${r.write.port}, read on replica ${r.read.server} via :${r.read.port} ` +
        `(${r.read.waitedMs} ms), ${r.all.servers.length} members via :${r.all.port}; leader ${r.leader}, VIP on ${r.vipHolder}` +
        (r.pooled
          ? `; pooled ${r.pooled.map((p) => `:${p.port} ${p.inRecovery ? 'replica' : 'primary'}`).join(', ')}`
          : ''),
    );
  },
};

export const verifyLayersStep: Step = {
  id: 'verify.layers',
  title: 'Check etcd, Patroni, HAProxy and keepalived',
  needs: EVERY_LAYER,
  resources: () => [],
  verifyGroup: verifyLayers,
};

/** `pgha verify` runs both steps; the cluster playbook runs only verify.cluster (each layer checked itself already). */
export const verify: Component = { name: 'verify', steps: [verifyLayersStep, verifyStep] };
