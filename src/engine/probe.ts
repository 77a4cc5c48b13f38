// Facts and resource probes: each batch is one remote script, one SSH round trip.
// A probe reads the current state of every resource a step wants; compare() turns it into changes.
import { randomBytes } from 'node:crypto';
import type { FactSpec, Facts, Resource, Transport } from './types.js';
import { RemoteError } from '../shared/errors.js';
import { mask } from './mask.js';
import { shq } from './quote.js';
import { PROBE_TAGS, kindOf, type KindName, type ProbedOf } from './kinds/index.js';

export { sha256 } from './kinds/file.js';

function sections(stdout: string, boundary: string): Map<string, string> {
  const out = new Map<string, string>();
  const parts = stdout.split(`${boundary} `);
  for (const part of parts.slice(1)) {
    const nl = part.indexOf('\n');
    const name = nl < 0 ? part : part.slice(0, nl);
    out.set(name.trim(), nl < 0 ? '' : part.slice(nl + 1));
  }
  return out;
}

function factsScript(specs: Record<string, FactSpec>, b: string): string {
  return Object.keys(specs).map((n) => `echo ${shq(`${b} ${n}`)}\n( ${specs[n].script}\n) 2>/dev/null || true`).join('\n');
}

function parseFacts(t: Transport, specs: Record<string, FactSpec>, sec: Map<string, string>): Facts {
  const facts: Facts = {};
  for (const n of Object.keys(specs)) {
    try {
      facts[n] = specs[n].parse(sec.get(n) ?? '');
    } catch (e) {
      throw new RemoteError(t.host.name, `cannot read fact "${n}": ${(e as Error).message}`, mask((sec.get(n) ?? '').slice(0, 400)));
    }
  }
  return facts;
}

/**
 * Facts and resource probes in ONE round trip. The resources probed here are a guess made before the facts
 * are known (see Runner); a probe's answer depends only on a resource's identity, so the guess is reused for
 * every real resource with the same identity.
 */
export async function factsAndProbe(t: Transport, specs: Record<string, FactSpec>, guess: Resource[], withContent: boolean): Promise<{ facts: Facts; probes: ProbeResult[] }> {
  if (Object.keys(specs).length === 0 && guess.length === 0) return { facts: {}, probes: [] };
  const b = `@@PGHA-${randomBytes(6).toString('hex')}`;
  const script = `${factsScript(specs, b)}\necho ${shq(`${b} @probe`)}\n${probeScript(guess, withContent)}`;
  const r = await t.exec(script, { timeoutMs: 120_000 });
  const sec = sections(r.stdout, b);
  return { facts: parseFacts(t, specs, sec), probes: parseProbe(guess, sec.get('@probe') ?? '') };
}

/** What a probe of this resource depends on (and nothing else: content, owner and mode are compared locally). */
export function probeIdentity(r: Resource): string {
  return kindOf(r).identity(r);
}

/** The probed state of one resource, of the resource's kind. */
export type ProbeResult = ProbedOf<KindName>;

export function probeScript(resources: Resource[], withContent: boolean): string {
  return resources.map((r, i) => kindOf(r).probe(r, i, withContent)).join('\n');
}

const PROBE_LINE = new RegExp(`^([${PROBE_TAGS}]) (\\d+) ?(.*)$`);

export function parseProbe(resources: Resource[], stdout: string): ProbeResult[] {
  const results = resources.map((r) => kindOf(r).unprobed());
  for (const line of stdout.split('\n')) {
    const m = PROBE_LINE.exec(line);
    if (!m) continue;
    const i = Number(m[2]);
    const r = resources[i];
    const res = results[i];
    if (!r || !res) continue;
    kindOf(r).read(res, m[1]!, m[3]!);
  }
  return results;
}

export async function probe(t: Transport, resources: Resource[], withContent: boolean): Promise<ProbeResult[]> {
  if (resources.length === 0) return [];
  const r = await t.exec(probeScript(resources, withContent), { timeoutMs: 120_000 });
  return parseProbe(resources, r.stdout);
}
