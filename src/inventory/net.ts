// IPv4 address and subnet arithmetic for inventory checks (no I/O).

/** The 32-bit value of a dotted-quad IPv4 address, or undefined when the text is not one. */
export function ipv4ToInt(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p, i) => p > 255 || (m[i + 1].length > 1 && m[i + 1].startsWith('0')))) return undefined;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

export function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Subnet {
  /** Network address as an integer. */
  network: number;
  prefix: number;
  /** Broadcast address as an integer. */
  broadcast: number;
}

export type SubnetParse = { ok: true; subnet: Subnet } | { ok: false; reason: string };

/** Parse "10.77.0.0/24". Host bits must be zero; the prefix must leave room for hosts (8..30). */
export function parseSubnet(cidr: string): SubnetParse {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
  if (!m) return { ok: false, reason: `'${cidr}' is not in CIDR form (address/prefix, e.g. 10.77.0.0/24)` };
  const addr = ipv4ToInt(m[1]);
  const prefix = Number(m[2]);
  if (addr === undefined) return { ok: false, reason: `'${m[1]}' is not an IPv4 address` };
  if (prefix < 8 || prefix > 30) return { ok: false, reason: `prefix /${prefix} is out of range: use /8 to /30` };
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (addr & mask) >>> 0;
  if (network !== addr) {
    return { ok: false, reason: `'${cidr}' has host bits set: did you mean '${intToIpv4(network)}/${prefix}'?` };
  }
  return { ok: true, subnet: { network, prefix, broadcast: (network | (~mask >>> 0)) >>> 0 } };
}

/** Why an address cannot be a host address in this subnet, or undefined when it can. */
export function hostAddressProblem(address: string, s: Subnet): string | undefined {
  const n = ipv4ToInt(address);
  if (n === undefined) return `'${address}' is not an IPv4 address`;
  const cidr = `${intToIpv4(s.network)}/${s.prefix}`;
  if (n < s.network || n > s.broadcast) return `${address} is outside the subnet ${cidr}`;
  if (n === s.network) return `${address} is the network address of ${cidr}`;
  if (n === s.broadcast) return `${address} is the broadcast address of ${cidr}`;
  return undefined;
}

/** The first usable address of the subnet (e.g. 10.77.0.1 for 10.77.0.0/24). */
export function firstHostAddress(s: Subnet): string {
  return intToIpv4(s.network + 1);
}
