// The host firewall's inventory variables: the switch, who administers the cluster (SSH, stats and metrics
// pages), who may use the client ports, and extra ports per group. Address lists are written as one string,
// comma or space separated ("10.0.0.0/8, 192.168.1.7"). Read them with firewallSettings(inv, host).
import type { Host, Inventory } from '../../inventory/types.js';
import { ipv4ToInt, intToIpv4 } from '../../inventory/net.js';
import { defineSettings } from '../settings.js';

const CIDR = '[0-9]{1,3}(\\.[0-9]{1,3}){3}(/[0-9]{1,2})?';
const CIDR_LIST = `^\\s*(${CIDR}([\\s,]+${CIDR})*)?\\s*$`;
const PORT = '[0-9]{1,5}(-[0-9]{1,5})?';
const PORT_LIST = `^\\s*(${PORT}([\\s,]+${PORT})*)?\\s*$`;

export const firewallVars = defineSettings(
  {
    enabled: {
      name: 'firewall_enabled',
      type: 'bool',
      default: false,
      level: 'cluster',
      doc:
        'A host firewall (nftables table inet pgha, input policy drop) that opens only the ports each role needs, ' +
        'to the hosts that need them (default false).',
    },
    adminCidrs: {
      name: 'firewall_admin_cidrs',
      type: 'string',
      default: '',
      pattern: CIDR_LIST,
      level: 'cluster',
      doc:
        'Addresses allowed to SSH and to the stats and metrics pages, e.g. "10.0.0.0/24, 192.168.1.7" (default: ' +
        "the lab's bridge address on a lab, else the cluster subnet). pgha's own SSH address must be inside.",
    },
    clientCidrs: {
      name: 'firewall_client_cidrs',
      type: 'string',
      default: '',
      pattern: CIDR_LIST,
      level: 'cluster',
      doc: "Addresses allowed to the balancers' client ports (HAProxy, VIP) (default: the cluster subnet).",
    },
    openTcpPorts: {
      name: 'firewall_open_tcp_ports',
      type: 'string',
      default: '',
      pattern: PORT_LIST,
      level: 'group',
      doc: 'Extra TCP ports or ranges opened on these hosts to the client addresses, e.g. "8080, 9000-9010" (default none).',
    },
  },
  [
    { uses: ['adminCidrs'], check: (s) => cidrListProblem('firewall_admin_cidrs', s.adminCidrs) },
    { uses: ['clientCidrs'], check: (s) => cidrListProblem('firewall_client_cidrs', s.clientCidrs) },
    { uses: ['openTcpPorts'], check: (s) => portListProblem(s.openTcpPorts) },
  ],
);

/** An IPv4 network: its address as an integer and prefix length. */
export interface Cidr {
  network: number;
  prefix: number;
}

export const splitList = (text: string): string[] => text.split(/[\s,]+/).filter((x) => x !== '');

/** "10.0.0.0/8" or a bare address (a /32), or the reason it is neither. */
export function parseCidr(text: string): Cidr | string {
  const [addr, len] = text.split('/');
  const n = ipv4ToInt(addr ?? '');
  if (n === undefined) return `'${text}' is not an IPv4 address or network`;
  const prefix = len === undefined ? 32 : Number(len);
  if (!Number.isInteger(prefix) || prefix > 32) return `'${text}' has a prefix outside 0..32`;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((n & mask) >>> 0 !== n)
    return `'${text}' has host bits set: did you mean '${intToIpv4((n & mask) >>> 0)}/${prefix}'?`;
  return { network: n, prefix };
}

/** What the pattern lets through but nftables would not take (the pattern's own errors come from the schema). */
function cidrListProblem(name: string, text: string): string | undefined {
  if (!new RegExp(CIDR_LIST).test(text)) return undefined;
  for (const c of splitList(text)) {
    const r = parseCidr(c);
    if (typeof r === 'string') return `${name}: ${r}`;
  }
  return undefined;
}

function portListProblem(text: string): string | undefined {
  if (!new RegExp(PORT_LIST).test(text)) return undefined;
  for (const p of splitList(text)) {
    const [a, b] = p.split('-').map(Number) as [number, number | undefined];
    if (a < 1 || a > 65535 || (b !== undefined && (b < a || b > 65535)))
      return `firewall_open_tcp_ports: '${p}' is not a port 1-65535 or a range low-high of them`;
  }
  return undefined;
}

/** Whether an IPv4 address lies in one of the networks. */
export function inCidrs(address: string, cidrs: readonly string[]): boolean {
  const n = ipv4ToInt(address);
  if (n === undefined) return false;
  return cidrs.some((c) => {
    const r = parseCidr(c);
    if (typeof r === 'string') return false;
    const mask = r.prefix === 0 ? 0 : (0xffffffff << (32 - r.prefix)) >>> 0;
    return (n & mask) >>> 0 === r.network;
  });
}

export interface FirewallSettings {
  enabled: boolean;
  adminCidrs: string[];
  clientCidrs: string[];
  openTcpPorts: string[];
}

/** One host's firewall settings with the defaults resolved (address lists as CIDR texts). */
export function firewallSettings(inv: Pick<Inventory, 'file' | 'subnet' | 'provider'>, host: Host): FirewallSettings {
  const s = firewallVars.read(inv, host);
  const lab = inv.provider.type === 'lab' ? inv.provider.lab?.bridgeAddress : undefined;
  const admin = splitList(s.adminCidrs);
  const client = splitList(s.clientCidrs);
  return {
    enabled: s.enabled,
    adminCidrs: admin.length ? admin : [lab ? `${lab}/32` : inv.subnet],
    clientCidrs: client.length ? client : [inv.subnet],
    openTcpPorts: splitList(s.openTcpPorts),
  };
}
