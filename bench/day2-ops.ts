// The day-2 benchmark's operations, apart from its rounds: a switchover (through `pgha switchover`, or through
// Patroni's REST API when this build of pgha has no such command), a copy of an inventory with one PostgreSQL
// parameter changed (beside the original, with its own copy of the files pgha keeps beside it), and the figures.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseDocument } from 'yaml';

/**
 * True when the CLI at `cli` knows `pgha switchover`: its --help exits 0 and is that command's own help. (An
 * unknown command with --help also exits 0, with the program's general help.)
 */
export function hasSwitchoverCommand(cli: string): boolean {
  const r = spawnSync(process.execPath, [cli, 'switchover', '--help'], { encoding: 'utf8', timeout: 30_000 });
  return r.status === 0 && /^Usage: pgha switchover\b/m.test(r.stdout);
}

export interface RestSwitchover {
  /** Base URL of the leader's REST API, e.g. http://10.0.0.11:8008 */
  url: string;
  leader: string;
  user: string;
  password: string;
  timeoutMs?: number;
}

/** POST /switchover on the leader (Basic auth); Patroni answers once the switchover is done or has failed. */
export async function restSwitchover(o: RestSwitchover): Promise<string> {
  const auth = Buffer.from(`${o.user}:${o.password}`).toString('base64');
  const r = await fetch(`${o.url}/switchover`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Basic ${auth}` },
    body: JSON.stringify({ leader: o.leader }),
    signal: AbortSignal.timeout(o.timeoutMs ?? 60_000),
  });
  const text = (await r.text()).trim();
  if (r.status !== 200) throw new Error(`POST /switchover on ${o.leader}: HTTP ${r.status}: ${text}`);
  return text;
}

export interface InventoryCopy {
  file: string;
  /** Sets one entry of postgres_parameters in the cluster-level vars of the copy. */
  setParameter(name: string, value: string | number): void;
  remove(): void;
}

const OWN_FILES = ['secrets.yml', 'known_hosts', 'id_ed25519', 'id_ed25519.pub', 'state.json'];

/**
 * A copy of the inventory beside it (so relative paths in it mean the same), named `.NAME.COPY.yml`, with a
 * copy of the secrets, known hosts and keys pgha keeps beside the original: `pgha up -i COPY` works on the
 * same cluster with the same credentials.
 */
export function copyInventory(file: string, copy = 'day2-bench'): InventoryCopy {
  const dir = dirname(file);
  const name = basename(file).replace(/\.ya?ml$/, '');
  const target = join(dir, `.${name}.${copy}.yml`);
  const from = join(dir, '.pgha', name);
  const to = join(dir, '.pgha', `.${name}.${copy}`);
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true, mode: 0o700 });
  for (const f of OWN_FILES)
    if (existsSync(join(from, f))) cpSync(join(from, f), join(to, f), { preserveTimestamps: true });
  writeFileSync(target, readFileSync(file, 'utf8'));
  return {
    file: target,
    setParameter(param, value) {
      const doc = parseDocument(readFileSync(target, 'utf8'));
      doc.setIn(['vars', 'postgres_parameters', param], value);
      writeFileSync(target, doc.toString());
    },
    remove() {
      rmSync(target, { force: true });
      rmSync(to, { recursive: true, force: true });
    },
  };
}

export interface Summary {
  min: number;
  median: number;
  max: number;
}

export function summarize(xs: number[]): Summary {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0] ?? 0, median: s.length ? s[Math.floor(s.length / 2)] : 0, max: s[s.length - 1] ?? 0 };
}
