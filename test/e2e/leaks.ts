// Looking for secrets where they must never be: the process lists of the hosts while pgha works on them
// (sampled over connections of the test's own), and the hosts' journals and auth/sudo logs afterwards.
import { existsSync, readFileSync } from 'node:fs';
import type { Inventory } from '../../src/inventory/types.js';
import { sidecarPath } from '../../src/inventory/types.js';
import { SshTransport } from '../../src/engine/transport.js';
import { KnownHosts, hostPattern } from '../../src/engine/knownhosts.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ProcessSamples {
  /** Every distinct command line seen, per host. */
  lines: Map<string, Set<string>>;
  /** How many times each host's process list was read. */
  samples: Map<string, number>;
}

/**
 * Reads `ps -eww -o args` on every host about every `intervalMs` until stop(). A host is reached once pgha's
 * lab provider has recorded its keys (it boots the hosts itself); until then it is retried.
 */
export function sampleProcessLists(inv: Inventory, intervalMs = 500): { stop(): Promise<ProcessSamples> } {
  let stopped = false;
  const out: ProcessSamples = { lines: new Map(), samples: new Map() };
  const known = sidecarPath(inv, 'known_hosts');
  const loops = inv.hosts.map(async (h) => {
    const seen = new Set<string>();
    out.lines.set(h.name, seen);
    out.samples.set(h.name, 0);
    let t: SshTransport | undefined;
    while (!stopped) {
      if (!t) {
        const recorded =
          existsSync(known) &&
          readFileSync(known, 'utf8')
            .split('\n')
            .some((l) => l.startsWith(`${hostPattern(h.address, h.ssh.port)} `));
        if (recorded)
          t = await SshTransport.connect(h, new KnownHosts(known), { timeoutMs: 3000 }).catch(() => undefined);
        if (!t) {
          await sleep(intervalMs);
          continue;
        }
      }
      try {
        const r = await t.exec('ps -eww -o args', { timeoutMs: 10_000 });
        for (const l of r.stdout.split('\n')) seen.add(l);
        out.samples.set(h.name, out.samples.get(h.name)! + 1);
      } catch {
        await t.close().catch(() => undefined);
        t = undefined; // the host restarted or the connection dropped: reconnect
      }
      await sleep(intervalMs);
    }
    await t?.close();
  });
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return out;
    },
  };
}

/** The journal and the auth/sudo logs of a host, as text. */
export async function hostLogs(t: SshTransport): Promise<string> {
  const r = await t.exec(
    'journalctl --no-pager 2>&1; cat /var/log/auth.log /var/log/sudo.log /var/log/syslog 2>/dev/null; true',
    { timeoutMs: 120_000 },
  );
  return r.stdout;
}

/**
 * The stretches of base64 that stand for `value` wherever it sits in a longer base64 text (a file's content sent
 * as base64): one per alignment of its first byte, each made only of the characters it alone decides.
 */
export function base64Forms(value: string): string[] {
  const len = Buffer.byteLength(value);
  return [0, 1, 2].map((k) => {
    const enc = Buffer.concat([Buffer.alloc(k), Buffer.from(value)]).toString('base64');
    return enc.slice(Math.ceil((8 * k) / 6), Math.floor((8 * (k + len) - 6) / 6) + 1);
  });
}

/** "where: secret NAME in: <line>" for every line of `text` holding one of the secrets, as is or in base64 (the value itself not shown). */
export function findSecrets(where: string, text: string, secrets: Record<string, string>): string[] {
  const hits: string[] = [];
  const forms = Object.entries(secrets)
    .filter(([, v]) => v)
    .flatMap(([name, v]) => [{ name, form: v }, ...base64Forms(v).map((form) => ({ name: `${name} (base64)`, form }))]);
  for (const line of text.split('\n')) {
    for (const { name, form } of forms) {
      if (line.includes(form))
        hits.push(`${where}: secret ${name} in: ${line.split(form).join(`<${name}>`).slice(0, 300)}`);
    }
  }
  return hits;
}
