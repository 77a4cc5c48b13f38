// Connections through jump hosts: one SSH connection per jump host (chain) for the whole run, shared by every
// host behind it; each of those gets a TCP stream forwarded by the jump host and runs its own SSH session over it.
// A jump connection closes when the last session through it has closed.
import type { Host } from '../inventory/types.js';
import type { ConnectPlan } from './sshplan.js';
import { RemoteError, UserError } from '../util/errors.js';
import type { KnownHosts } from './knownhosts.js';
import { SshTransport } from './transport.js';

interface Shared {
  refs: number;
  conn: Promise<SshTransport>;
}

const open = new Map<string, Shared>();

function hopKey(chain: Host[]): string {
  return chain.map((h) => `${h.ssh.user}@${h.ssh.hostName ?? h.address}:${h.ssh.port}`).join(',');
}

/** How a jump host is named in messages: its inventory name, and where it is. */
export function hopLabel(h: Host): string {
  const where = `${h.ssh.user}@${h.ssh.hostName ?? h.address}:${h.ssh.port}`;
  return h.name === (h.ssh.hostName ?? h.address) ? where : `${h.name} (${where})`;
}

/** The connection to the last host of a chain, opened once and shared; release() when done with it. */
async function acquire(
  chain: Host[],
  knownHosts: KnownHosts,
  timeoutMs?: number,
): Promise<{ t: SshTransport; release: () => void }> {
  const key = hopKey(chain);
  let s = open.get(key);
  if (!s) {
    const entry: Shared = { refs: 0, conn: reach(chain[chain.length - 1], chain.slice(0, -1), knownHosts, timeoutMs) };
    entry.conn.catch(() => open.get(key) === entry && open.delete(key));
    open.set(key, entry);
    s = entry;
  }
  const shared = s;
  shared.refs++;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    if (--shared.refs > 0) return;
    if (open.get(key) === shared) open.delete(key);
    shared.conn.then(
      (t) => t.close(),
      () => undefined,
    );
  };
  try {
    return { t: await shared.conn, release };
  } catch (e) {
    release();
    throw e;
  }
}

/** Connect to host, through the jump hosts in front of it (none: directly). */
async function reach(host: Host, jumps: Host[], knownHosts: KnownHosts, timeoutMs?: number): Promise<SshTransport> {
  if (!jumps.length) return SshTransport.connect(host, knownHosts, { timeoutMs });
  const jump = jumps[jumps.length - 1];
  const label = hopLabel(jump);
  let hop: { t: SshTransport; release: () => void };
  try {
    hop = await acquire(jumps, knownHosts, timeoutMs);
  } catch (e) {
    if (e instanceof UserError) throw e;
    const err = e as RemoteError;
    const msg = err.message.startsWith(`${jump.name}: `) ? err.message.slice(jump.name.length + 2) : err.message;
    throw new RemoteError(
      host.name,
      `cannot reach the jump host ${label}: ${msg}`,
      undefined,
      `the jump host must answer SSH from this machine; check ssh.jump in the inventory (or ProxyJump in the ssh config)${err.hint ? `, and: ${err.hint}` : ''}`,
    );
  }
  const address = host.ssh.hostName ?? host.address;
  let stream;
  try {
    stream = await hop.t.forward(address, host.ssh.port, timeoutMs);
  } catch (e) {
    hop.release();
    throw new RemoteError(
      host.name,
      `the jump host ${label} cannot reach ${address}:${host.ssh.port} (${(e as Error).message})`,
      undefined,
      `the jump host is up; check from it that ${address} answers on port ${host.ssh.port} (address, firewall, sshd on ${host.name})`,
    );
  }
  stream.once('close', hop.release);
  try {
    return await SshTransport.connect(host, knownHosts, { timeoutMs, sock: stream, via: jump.name });
  } catch (e) {
    stream.destroy();
    throw e;
  }
}

/** Open the SSH connection of one planned host (directly or through its jump hosts). */
export function connectPlanned(
  plan: ConnectPlan,
  knownHosts: KnownHosts,
  opts: { timeoutMs?: number } = {},
): Promise<SshTransport> {
  return reach(plan.host, plan.jumps, knownHosts, opts.timeoutMs);
}
