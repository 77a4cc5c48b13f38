// Lab network on the control machine: one bridge with the lab's gateway/cache address, and per host a network
// namespace joined to the bridge by a veth pair whose inner end is `host0`. No forwarding, no NAT.
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { labMac } from './render.js';
import { run, tryRun, mountsUnder } from './sys.js';

export const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);

export function netnsExists(name: string): boolean {
  return existsSync(`/run/netns/${name}`);
}

export function bridgePorts(bridge: string): string[] {
  try {
    return readdirSync(`/sys/class/net/${bridge}/brif`);
  } catch {
    return [];
  }
}

/** Creates the bridge, its address and brings it up as needed. Returns true when something changed. */
export async function ensureBridge(bridge: string, address: string, prefix: number): Promise<boolean> {
  let changed = false;
  if (!linkExists(bridge)) {
    await run`ip link add ${bridge} address ${labMac(`bridge/${bridge}`)} type bridge`;
    changed = true;
  }
  const addrs = await run`ip -o -4 addr show dev ${bridge}`;
  if (!addrs.includes(` ${address}/${prefix} `)) {
    await run`ip addr replace ${`${address}/${prefix}`} dev ${bridge}`;
    changed = true;
  }
  const state = await run`ip -o link show dev ${bridge}`;
  if (!/[<,]UP[,>]/.test(state)) {
    await run`ip link set ${bridge} up`;
    changed = true;
  }
  return changed;
}

export async function deleteBridgeIfUnused(bridge: string): Promise<boolean> {
  if (!linkExists(bridge) || bridgePorts(bridge).length) return false;
  await tryRun`ip link delete ${bridge} type bridge`;
  return true;
}

async function inNs(ns: string, script: string): Promise<{ code: number; stdout: string }> {
  return tryRun`ip netns exec ${ns} sh -c ${script}`;
}

/** Is the namespace wired as intended (host0 up with the address, default route via the gateway, veth on the bridge)? */
export async function hostLinkReady(
  ns: string,
  veth: string,
  bridge: string,
  address: string,
  prefix: number,
  gateway: string,
): Promise<boolean> {
  if (!netnsExists(ns) || !linkExists(veth)) return false;
  if (!bridgePorts(bridge).includes(veth)) return false;
  const r = await inNs(ns, 'ip -o -4 addr show dev host0; ip -o link show dev host0; ip route show default');
  return (
    r.code === 0 &&
    r.stdout.includes(` ${address}/${prefix} `) &&
    /[<,]UP[,>]/.test(r.stdout) &&
    r.stdout.includes(`default via ${gateway} `)
  );
}

/** Creates or repairs one host's namespace and veth pair. Returns true when something changed. */
export async function ensureHostLink(
  ns: string,
  veth: string,
  bridge: string,
  address: string,
  prefix: number,
  gateway: string,
): Promise<boolean> {
  if (await hostLinkReady(ns, veth, bridge, address, prefix, gateway)) return false;
  if (!netnsExists(ns)) await run`ip netns add ${ns}`;
  const peerInNs = (await tryRun`ip -n ${ns} link show dev host0`).code === 0;
  if (linkExists(veth) && !peerInNs) await run`ip link delete ${veth}`; // half-made pair: start over
  if (!linkExists(veth)) {
    if (peerInNs) await run`ip -n ${ns} link delete host0`;
    await run`ip link add ${veth} address ${labMac(`${ns}/veth`)} type veth peer name host0 address ${labMac(`${ns}/host0`)} netns ${ns}`;
  }
  await run`ip link set ${veth} master ${bridge}`;
  await run`ip link set ${veth} up`;
  await run`ip -n ${ns} link set lo up`;
  await run`ip -n ${ns} addr replace ${`${address}/${prefix}`} dev host0`;
  await run`ip -n ${ns} link set host0 up`;
  await run`ip -n ${ns} route replace default via ${gateway} dev host0`;
  return true;
}

export async function deleteHostLink(ns: string, veth: string): Promise<void> {
  if (linkExists(veth)) await tryRun`ip link delete ${veth}`;
  if (netnsExists(ns)) {
    await tryRun`ip netns delete ${ns}`;
    // A half-made namespace file (created, never bind-mounted, or left mounted by a killed run).
    if (existsSync(`/run/netns/${ns}`)) {
      for (const m of mountsUnder(`/run/netns/${ns}`)) await tryRun`umount ${m}`;
      rmSync(`/run/netns/${ns}`, { force: true });
    }
  }
}

/** Pids of processes in a namespace (empty when the namespace is gone). */
export async function netnsPids(ns: string): Promise<number[]> {
  if (!netnsExists(ns)) return [];
  const r = await tryRun`ip netns pids ${ns}`;
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => n > 0);
}
