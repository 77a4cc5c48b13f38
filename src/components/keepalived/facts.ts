// keepalived facts: which interface carries the host's address; who holds the VIP.
import type { FactSpec } from '../../engine/types.js';

export interface AddrEntry {
  iface: string;
  address: string;
  prefix: number;
}

/** `ip -o -4 addr show` lines: "2: host0    inet 10.77.0.11/24 brd ... scope global host0". */
export function parseIpAddr(text: string): AddrEntry[] {
  const out: AddrEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+(\S+?)(?:@\S+)?\s+inet\s+(\d+\.\d+\.\d+\.\d+)\/(\d+)/.exec(line.trim());
    if (m) out.push({ iface: m[1]!, address: m[2]!, prefix: Number(m[3]) });
  }
  return out;
}

export const addrFact: FactSpec<AddrEntry[]> = { script: 'ip -o -4 addr show', parse: parseIpAddr };

/** The interface that carries `address`, if any. */
export function interfaceFor(address: string, entries: AddrEntry[]): string | undefined {
  return entries.find((e) => e.address === address)?.iface;
}

/** Whether `vip` is one of the addresses. */
export function holdsVip(vip: string, entries: AddrEntry[]): boolean {
  return entries.some((e) => e.address === vip);
}
