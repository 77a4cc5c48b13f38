// The restore's operations on the real hosts, over their transports: systemd for Patroni, pg_ctl to make sure
// PostgreSQL is down, mv for the data directories, etcdctl for the DCS, GET /patroni for the waits.
import type { Host, Inventory } from '../../inventory/types.js';
import type { Transport } from '../../engine/types.js';
import { shq } from '../../engine/quote.js';
import { waitFor } from '../../engine/wait.js';
import { journal, obj } from '../common.js';
import { etcdctl } from '../etcd/facts.js';
import { localEtcdClient } from '../members/view.js';
import { patroniSettings } from '../patroni/settings.js';
import { PATRONI_CONFIG } from '../patroni/stuck.js';
import type { RestoreOps } from './run.js';
import { patroniGet } from '../patroni/api.js';

export const ASIDE_SUFFIX = '.pgha-before-restore';

/** Patroni's keys of this cluster: /<namespace>/<scope>/ (Patroni collapses repeated slashes). */
export function clusterPrefix(namespace: string, scope: string): string {
  return `/${namespace}/${scope}/`.replace(/\/+/g, '/');
}

/** Stops Patroni, then PostgreSQL if it still runs (Patroni's unit kills only Patroni on a timeout). */
export function stopScript(binDir: string, dataDir: string): string {
  const ctl = `runuser -u postgres -- ${shq(`${binDir}/pg_ctl`)} -D ${shq(dataDir)}`;
  return [
    'systemctl stop patroni',
    `if [ -d ${shq(dataDir)} ] && ${ctl} status >/dev/null 2>&1; then ${ctl} stop -m fast -w -t 120; fi`,
    `if [ -d ${shq(dataDir)} ] && ${ctl} status >/dev/null 2>&1; then echo "PostgreSQL still runs in ${dataDir}" >&2; exit 1; fi`,
  ].join('\n');
}

/** Moves the data directory to DATA.pgha-before-restore-STAMP and prints where (nothing when there is none). */
export function moveAsideScript(dataDir: string, stamp: string): string {
  const to = `${dataDir}${ASIDE_SUFFIX}-${stamp}`;
  return `if [ -e ${shq(dataDir)} ]; then mv ${shq(dataDir)} ${shq(to)} && echo ${shq(to)}; fi`;
}

/** Writes config.yml from stdin (owner postgres, 0600), replacing it in one rename. */
export function writeConfigScript(path = PATRONI_CONFIG): string {
  return `umask 077; cat > ${shq(`${path}.pgha-new`)} && chown postgres:postgres ${shq(`${path}.pgha-new`)} && mv ${shq(`${path}.pgha-new`)} ${shq(path)}`;
}

export interface RemoteDeps {
  inv: Inventory;
  transports: Map<string, Transport>;
  secrets: Record<string, string>;
  /** For the aside directories' names. */
  stamp: string;
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** GET /patroni of one member (undefined when its API does not answer). */
async function patroniState(d: RemoteDeps, h: Host): Promise<Record<string, unknown> | undefined> {
  const t = d.transports.get(h.name)!;
  const r = await patroniGet(t, d.inv, h, '/patroni').catch(() => undefined);
  if (!r || r.status === 0 || !r.body) return undefined;
  try {
    return obj(JSON.parse(r.body));
  } catch {
    return undefined;
  }
}

export function remoteOps(d: RemoteDeps): RestoreOps {
  const host = (name: string) => d.inv.hosts.find((h) => h.name === name)!;
  const tr = (name: string) => {
    const t = d.transports.get(name);
    if (!t) throw new Error(`${name}: not connected`);
    return t;
  };
  const run = async (name: string, script: string, what: string, stdin?: string) => {
    const r = await tr(name).exec(script, {
      stdin,
      timeoutMs: 300_000,
      secrets: stdin ? Object.values(d.secrets) : undefined,
    });
    if (r.code !== 0) throw new Error(`${name}: ${what}: ${(r.stderr.trim() || r.stdout.trim()).slice(-1500)}`);
    return r.stdout.trim();
  };
  const timeoutMs = d.timeoutMs ?? 900_000;
  return {
    async stopPatroni(name) {
      const s = patroniSettings(d.inv, host(name));
      await run(name, stopScript(s.pgBinDir, s.pgDataDir), 'stop Patroni and PostgreSQL');
    },
    async moveAside(name) {
      const out = await run(name, moveAsideScript(patroniSettings(d.inv, host(name)).pgDataDir, d.stamp), 'move aside');
      return out || undefined;
    },
    async wipeDcs() {
      const etcdHosts = d.inv.hosts.filter((h) => h.roles.includes('etcd') && d.transports.has(h.name));
      const e = etcdHosts[0];
      if (!e) throw new Error('no etcd host is connected');
      const ps = patroniSettings(
        d.inv,
        d.inv.hosts.find((h) => h.roles.includes('postgres'))!,
      );
      const prefix = clusterPrefix(ps.namespace, ps.scope);
      const ep = localEtcdClient(d.inv, e);
      const left = await run(
        e.name,
        `${etcdctl(ep, ['del', '--prefix', prefix])} >/dev/null && ${etcdctl(ep, ['get', '--prefix', '--keys-only', prefix])}`,
        `etcdctl del --prefix ${prefix}`,
      );
      if (left) throw new Error(`${e.name}: keys under ${prefix} are still there: ${left}`);
      d.log?.(`deleted every key under ${prefix} (etcd through ${e.name})`);
    },
    async writeConfig(name, content) {
      await run(name, writeConfigScript(), `write ${PATRONI_CONFIG}`, content);
    },
    async startPatroni(name) {
      await run(name, 'systemctl reset-failed patroni 2>/dev/null; systemctl start patroni', 'start Patroni');
    },
    async reloadPatroni(name) {
      await run(name, 'systemctl reload patroni', 'reload Patroni');
    },
    async waitLeader(name) {
      const h = host(name);
      const r = await waitFor(
        async () => {
          const s = await patroniState(d, h);
          // Patroni 3.0.2 exits after a failed bootstrap; systemd restarts it a few times, then gives up.
          const unit = s ? '' : (await tr(name).exec('systemctl is-active patroni')).stdout.trim();
          const state = s ? String(s.state ?? '') : `no answer (patroni.service ${unit})`;
          const role = String(s?.role ?? '');
          return { ok: ['master', 'primary'].includes(role) && state === 'running', value: `${role} ${state}`.trim() };
        },
        {
          timeoutMs,
          intervalMs: 2000,
          stop: (v) => /bootstrap failed|patroni\.service (failed|inactive)/.test(v),
          what: `${name} leading`,
        },
      );
      if (!r.ok) {
        const logs = await journal(d.transports.get(name), 'patroni', 40).catch(() => '');
        // Patroni would try the bootstrap again and again: stop it until someone looked.
        await run(name, 'systemctl stop patroni', 'stop Patroni').catch(() => undefined);
        throw new Error(`${name} did not become the leader of the restored data (Patroni: ${r.value})\n${logs}`);
      }
    },
    async waitStreaming(names) {
      const leader = d.inv.hosts.find((h) => h.roles.includes('postgres') && !names.includes(h.name))!;
      const r = await waitFor(
        async () => {
          const s = await patroniState(d, leader);
          const streaming = (Array.isArray(s?.replication) ? s.replication : [])
            .map(obj)
            .filter((x) => x.state === 'streaming')
            .map((x) => String(x.application_name));
          return { ok: names.every((n) => streaming.includes(n)), value: streaming.join(', ') || 'none' };
        },
        { timeoutMs, intervalMs: 2000, what: 'replicas streaming' },
      );
      if (!r.ok) throw new Error(`not every member streams from ${leader.name} (streaming: ${r.value})`);
    },
    async dropAside(name, path) {
      if (!path.includes(ASIDE_SUFFIX)) throw new Error(`${name}: refusing to delete ${path}`);
      await run(name, `rm -rf ${shq(path)}`, `delete ${path}`);
    },
  };
}
