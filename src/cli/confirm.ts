// Confirmation before anything that deletes or stops: on a terminal pgha lists what goes and what is lost and asks
// for "yes"; without a terminal it refuses unless --yes was given. Nothing has changed when it refuses.
import { createInterface } from 'node:readline/promises';
import type { Inventory } from '../inventory/types.js';
import type { ProviderChange } from '../providers/types.js';
import { UserError } from '../util/errors.js';

export interface ConfirmIO {
  /** A person can answer (stdin and stderr are terminals). */
  interactive: boolean;
  write(text: string): void;
  ask(question: string): Promise<string>;
}

export function terminalIO(): ConfirmIO {
  return {
    interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
    write: (text) => process.stderr.write(text),
    async ask(question) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    },
  };
}

/** What a destroy or a stop loses, in words, from the hosts it touches and their roles. */
export function lossOf(inv: Inventory, action: 'destroy' | 'down', changes: ProviderChange[]): string[] {
  const touched = new Set(changes.map((c) => c.host));
  const hosts = inv.hosts.filter((h) => touched.has(h.name));
  const members = inv.hosts.filter((h) => h.roles.includes('postgres'));
  const goneMembers = members.filter((h) => touched.has(h.name));
  if (action === 'down') {
    return goneMembers.length === members.length && members.length
      ? ['the cluster stops answering until `pgha lab up` (the disks are kept)']
      : hosts.length
        ? [`${hosts.map((h) => h.name).join(', ')} stop until \`pgha lab up\` (the disks are kept)`]
        : [];
  }
  const lost: string[] = [];
  if (goneMembers.length && goneMembers.length === members.length) {
    lost.push(`every copy of the database of cluster ${inv.cluster} (${goneMembers.map((h) => h.name).join(', ')})`);
  } else {
    for (const h of goneMembers) lost.push(`${h.name}: its copy of the database (PostgreSQL member of ${inv.cluster})`);
  }
  for (const h of hosts.filter((x) => x.roles.includes('etcd'))) lost.push(`${h.name}: its etcd member data`);
  for (const h of hosts.filter((x) => !x.roles.includes('postgres') && !x.roles.includes('etcd')))
    lost.push(`${h.name}: the machine and its disk`);
  return lost;
}

/** Returns when the user confirmed (or --yes); throws a UserError otherwise. */
export async function confirmLoss(
  what: { command: string; changes: ProviderChange[]; lost: string[] },
  yes: boolean,
  io: ConfirmIO = terminalIO(),
): Promise<void> {
  if (yes || what.changes.length === 0) return;
  const list = what.changes.map((c) => `  ${c.host}: ${c.summary}`).join('\n');
  const lost = what.lost.length ? `\nThis loses:\n${what.lost.map((l) => `  - ${l}`).join('\n')}\n` : '';
  if (!io.interactive) {
    throw new UserError(
      `${what.command} asks for confirmation and there is no terminal to ask on; nothing was changed. It would:\n${list}${lost}`,
      `run it on a terminal, or add --yes to confirm`,
    );
  }
  io.write(`${what.command} will:\n${list}\n${lost}`);
  const answer = (await io.ask(`Type yes to go on: `)).trim().toLowerCase();
  if (answer !== 'yes')
    throw new UserError(`${what.command}: not confirmed; nothing was changed`, `answer yes to go on`);
}
