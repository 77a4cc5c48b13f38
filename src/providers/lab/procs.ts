// The lab's machines from one scan of /proc, for all hosts at once: a scan per host (and `ip netns pids` per host)
// costs hosts x processes reads, seconds at 50 hosts. Also a cheap "sshd answers" check for hosts that already run.
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { ProviderError } from '../../util/errors.js';
import { sleep } from '../../engine/wait.js';
import { isNspawnOf, type LabHost, type MachineState } from './machine.js';

export interface LabProcs {
  /** machine -> pids of its systemd-nspawn */
  nspawn: Map<string, number[]>;
  /** machine -> its init (the process of its network namespace whose innermost pid is 1) */
  init: Map<string, number>;
}

/** One pass over `procRoot` for the given machines (their namespaces are `netnsDir`/<machine>). */
export function scanLab(machines: string[], procRoot = '/proc', netnsDir = '/run/netns'): LabProcs {
  const byInode = new Map<string, string>();
  for (const m of machines) {
    try {
      byInode.set(String(statSync(`${netnsDir}/${m}`).ino), m);
    } catch {
      /* no namespace: not running */
    }
  }
  const out: LabProcs = { nspawn: new Map(), init: new Map() };
  let pids: string[];
  try {
    pids = readdirSync(procRoot).filter((n) => /^\d+$/.test(n));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const raw = readFileSync(`${procRoot}/${pid}/cmdline`, 'utf8');
      if (raw.includes('systemd-nspawn')) {
        const argv = raw.replace(/\0$/, '').split('\0');
        const m = machines.find((x) => isNspawnOf(argv, x));
        if (m) out.nspawn.set(m, [...(out.nspawn.get(m) ?? []), Number(pid)]);
      }
      if (!byInode.size) continue;
      const ns = /^net:\[(\d+)\]$/.exec(readlinkSync(`${procRoot}/${pid}/ns/net`))?.[1];
      const m = ns ? byInode.get(ns) : undefined;
      if (!m || out.init.has(m)) continue;
      const nspid = /^NSpid:\s*(.*)$/m
        .exec(readFileSync(`${procRoot}/${pid}/status`, 'utf8'))?.[1]
        .trim()
        .split(/\s+/);
      if (nspid && nspid.length > 1 && nspid[nspid.length - 1] === '1') out.init.set(m, Number(pid));
    } catch {
      /* exited meanwhile, or a kernel thread */
    }
  }
  return out;
}

/** What machineState says, from a scan. */
export function stateIn(h: LabHost, procs: LabProcs): { state: MachineState; init?: number; detail?: string } {
  const init = procs.init.get(h.machine);
  const nspawn = procs.nspawn.get(h.machine) ?? [];
  if (init)
    return {
      state: 'running',
      init,
      detail: nspawn.length ? `machine ${h.machine}` : `machine ${h.machine} (its systemd-nspawn is gone)`,
    };
  if (nspawn.length) return { state: 'running', detail: `machine ${h.machine} (starting or stopping)` };
  return existsSync(h.paths.upper) ? { state: 'stopped', detail: `machine ${h.machine}` } : { state: 'absent' };
}

/** One try: does a TCP connection to address:port get an SSH banner within `ms`? */
export function sshBanner(address: string, port: number, ms: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    let data = '';
    const sock = connect({ host: address, port });
    const done = (v: string | undefined) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), ms);
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      data += d;
      const line = data.split('\n').find((l) => l.startsWith('SSH-'));
      if (line) done(line.trim());
      else if (data.length > 8192) done(undefined);
    });
    sock.on('error', () => done(undefined));
    sock.on('close', () => done(undefined));
  });
}

/**
 * Waits (bounded) until sshd of a host that already runs sends its banner: no process, no key exchange. The
 * login itself is checked by the run's own connection right after (a fresh boot waits for a full login instead).
 */
export async function waitSshBanner(h: LabHost, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await sshBanner(h.address ?? '', h.port, 3000)) return Date.now() - start;
    await sleep(500);
  }
  throw new ProviderError(
    `lab host ${h.name} (${h.address}) did not answer on SSH within ${Math.round(timeoutMs / 1000)} s`,
    `see ${h.paths.logFile}`,
  );
}
