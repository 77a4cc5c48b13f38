// What the firewall step reads from a host: the SSH session pgha runs in (the address it connects from and the
// port sshd serves it on), and reachability probes from one host to others.
import type { FactSpec, Transport } from '../../engine/types.js';
import { renderProgram } from '../common.js';
import { shq } from '../../engine/quote.js';

export interface SshSource {
  /** The address pgha's SSH connection comes from, as the host sees it ('' when not found). */
  client: string;
  /** The port sshd serves that connection on (0 when not found). */
  port: number;
}

/** "ssh ADDRESS PORT" as printed by the ssh-source program; an IPv4-mapped IPv6 address is given as IPv4. */
export function parseSshSource(stdout: string): SshSource {
  const line = stdout.split('\n').find((l) => l.startsWith('ssh')) ?? '';
  const [, client = '', port = ''] = line.trim().split(/\s+/);
  return { client: client.replace(/^::ffff:/i, ''), port: /^[0-9]+$/.test(port) ? Number(port) : 0 };
}

export const sshSourceFact = (): FactSpec<SshSource> => ({
  script: renderProgram('firewall/ssh-source.sh.hbs'),
  parse: parseSshSource,
});

export type ProbeAnswer = 'open' | 'refused' | 'timeout';

export interface ProbeTarget {
  address: string;
  port: number;
}

/** The program that connects to every target at once; `seconds` bounds each attempt. */
export function probeScript(targets: readonly ProbeTarget[], seconds = 3): string {
  return renderProgram('firewall/probe.sh.hbs', {
    seconds,
    targets: targets.map((t) => ({ address: shq(t.address), port: t.port })),
  });
}

/** "ADDRESS PORT ANSWER" lines by "ADDRESS:PORT"; a target without a line is missing from the map. */
export function parseProbes(stdout: string): Map<string, ProbeAnswer> {
  const out = new Map<string, ProbeAnswer>();
  for (const l of stdout.split('\n')) {
    const m = /^(\S+) ([0-9]+) (open|refused|timeout)$/.exec(l.trim());
    if (m) out.set(`${m[1]}:${m[2]}`, m[3] as ProbeAnswer);
  }
  return out;
}

/** Connect from the host behind `t` to each target; what each answered. */
export async function probeFrom(
  t: Transport,
  targets: readonly ProbeTarget[],
  seconds = 3,
): Promise<Map<string, ProbeAnswer>> {
  if (targets.length === 0) return new Map();
  const r = await t.exec(probeScript(targets, seconds), { timeoutMs: (seconds + 20) * 1000 });
  return parseProbes(r.stdout);
}
