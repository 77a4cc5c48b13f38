// Waiting for a new VM: its SSH port, and with DHCP the address the guest agent reports.
import { isIP } from 'node:net';
import { ProviderError } from '../../util/errors.js';
import { tcpOpen } from '../../util/net.js';
import { PveApiError, sleep, type PveClient } from './client.js';
import { propertyString } from './spec.js';

/** Resolves when address:port accepts a TCP connection; ProviderError after timeoutSec. */
export type SshWaiter = (host: string, address: string, port: number, timeoutSec: number) => Promise<void>;

export const waitForSsh: SshWaiter = async (host, address, port, timeoutSec) => {
  const deadline = Date.now() + timeoutSec * 1000;
  for (;;) {
    if (await tcpOpen(address, port, 2000)) return;
    if (Date.now() > deadline) {
      throw new ProviderError(
        `${host}: no SSH answer on ${address}:${port} after ${timeoutSec} s`,
        'check the VM console in Proxmox: did cloud-init apply the network (ipconfig0, gateway, bridge) and start sshd? ' +
          'Raise provider.proxmox.sshTimeoutSec if the guest boots slowly',
      );
    }
    await sleep(1000);
  }
};

interface AgentIface {
  name?: string;
  'hardware-address'?: string;
  'ip-addresses'?: { 'ip-address': string; 'ip-address-type': string; prefix?: number }[];
}

function usable(ip: string): boolean {
  if (isIP(ip) !== 4) return false;
  return !/^(169\.254\.|0\.)/.test(ip) && ip !== '127.0.0.1';
}

/** Pick the IPv4 address of net0's NIC (by MAC), else of any NIC but `lo`; link-local addresses do not count. */
export function pickAddress(ifaces: AgentIface[], mac?: string): string | undefined {
  const byMac = mac ? ifaces.filter((i) => i['hardware-address']?.toLowerCase() === mac.toLowerCase()) : [];
  for (const list of [byMac, ifaces.filter((i) => i.name !== 'lo')]) {
    for (const i of list) {
      const a = (i['ip-addresses'] ?? []).find((x) => x['ip-address-type'] === 'ipv4' && usable(x['ip-address']));
      if (a) return a['ip-address'];
    }
  }
  return undefined;
}

/** The MAC of net0 from a config (`virtio=BC:24:11:..,bridge=vmbr0`). */
export function net0Mac(config: Record<string, unknown>): string | undefined {
  const p = propertyString(config['net0']);
  if (p['macaddr']) return p['macaddr'];
  const first = (typeof config['net0'] === 'string' ? config['net0'].split(',')[0] : '') ?? '';
  const m = /^[a-z0-9-]+=(([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2})$/.exec(first);
  return m?.[1];
}

/** Poll the guest agent until it reports a usable IPv4 address on the VM's NIC. */
export async function waitForAgentAddress(
  c: PveClient,
  node: string,
  vmid: number,
  host: string,
  mac: string | undefined,
  timeoutSec: number,
  pollMs = 2000,
): Promise<string> {
  const deadline = Date.now() + timeoutSec * 1000;
  let last: string;
  for (;;) {
    try {
      const r = (await c.api.nodes.$(node).qemu.$(vmid).agent['network-get-interfaces'].$get()) as {
        result?: AgentIface[];
      };
      const addr = pickAddress(r?.result ?? [], mac);
      if (addr) return addr;
      last = 'the agent reports no IPv4 address yet';
    } catch (e) {
      // The agent starts late and DHCP takes a while: these errors are expected until it answers.
      if (!(e instanceof PveApiError) || e.status === 403 || e.status === 401 || e.status === 0) throw e;
      last = e.all;
      if (/No QEMU guest agent configured/.test(last)) {
        throw new ProviderError(
          `${host}: VM ${vmid} uses DHCP but has no QEMU guest agent configured, so pgha cannot learn its address`,
          'enable the agent in the template (qm set <template> --agent enabled=1, and install qemu-guest-agent in the image), or give the host a static address',
        );
      }
    }
    if (Date.now() > deadline) {
      throw new ProviderError(
        `${host}: no DHCP address reported by the guest agent of VM ${vmid} after ${timeoutSec} s (${last})`,
        'check that qemu-guest-agent is installed and running in the image and that the bridge has a DHCP server',
      );
    }
    await sleep(pollMs);
  }
}
