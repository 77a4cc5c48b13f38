// Facts and resource probes: each batch is one remote script, one SSH round trip.
// A probe reads the current state of every resource a step wants; compare() turns it into changes.
import { createHash, randomBytes } from 'node:crypto';
import type { FactSpec, Facts, Resource, Transport } from './types.js';
import { RemoteError } from './errors.js';
import { mask } from './mask.js';
import { shq } from './quote.js';

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

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

/** Runs every fact script of a step in one round trip; each fact's parser sees only its own output. */
export async function gatherFacts(t: Transport, specs: Record<string, FactSpec>): Promise<Facts> {
  return (await factsAndProbe(t, specs, [], false)).facts;
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
export function probeIdentity(r: Resource, withContent: boolean): string {
  switch (r.kind) {
    case 'file': return `file ${r.path}`;
    case 'directory': return `dir ${r.path}`;
    case 'packages': return `pkg ${[...r.names].sort().join(' ')}`;
    case 'service': return `svc ${r.name}`;
    case 'command': return `cmd ${r.creates ?? ''}\0${r.unless ?? ''}`;
  }
}

export interface FileState { exists: boolean; sha?: string; owner?: string; group?: string; mode?: string; content?: string }
export interface DirState { exists: boolean; owner?: string; group?: string; mode?: string }
export interface ServiceState { enabled: string; active: string }
export type ProbeResult =
  | { kind: 'file'; state: FileState }
  | { kind: 'directory'; state: DirState }
  | { kind: 'packages'; installed: Set<string> }
  | { kind: 'service'; state: ServiceState }
  | { kind: 'command'; run: boolean };

const MAX_DIFF_BYTES = 256 * 1024;

function probeSnippet(r: Resource, i: number, withContent: boolean): string {
  switch (r.kind) {
    case 'file': {
      const p = shq(r.path);
      const content = withContent
        ? `; if [ "$(stat -c %s ${p})" -le ${MAX_DIFF_BYTES} ]; then echo "X ${i} $(base64 -w0 < ${p})"; fi`
        : '';
      return `if [ -f ${p} ]; then echo "F ${i} $(sha256sum < ${p} | cut -d' ' -f1) $(stat -c '%U %G %a' ${p})"${content}; else echo "F ${i} -"; fi`;
    }
    case 'directory': {
      const p = shq(r.path);
      return `if [ -d ${p} ]; then echo "D ${i} $(stat -c '%U %G %a' ${p})"; else echo "D ${i} -"; fi`;
    }
    case 'packages':
      return `dpkg-query -W -f='\${Package} \${db:Status-Status}\\n' ${r.names.map(shq).join(' ')} 2>/dev/null | sed 's/^/P ${i} /'`;
    case 'service': {
      const n = shq(r.name);
      return `echo "S ${i} $(systemctl is-enabled ${n} 2>/dev/null | head -1 || :) $(systemctl is-active ${n} 2>/dev/null | head -1 || :)"`;
    }
    case 'command': {
      const tests: string[] = [];
      if (r.creates) tests.push(`[ -e ${shq(r.creates)} ]`);
      if (r.unless) tests.push(`( ${r.unless}\n) >/dev/null 2>&1`);
      if (tests.length === 0) return `echo "C ${i} run"`;
      return `if ${tests.join(' || ')}; then echo "C ${i} skip"; else echo "C ${i} run"; fi`;
    }
  }
}

export function probeScript(resources: Resource[], withContent: boolean): string {
  return resources.map((r, i) => probeSnippet(r, i, withContent)).join('\n');
}

export function parseProbe(resources: Resource[], stdout: string): ProbeResult[] {
  const results: ProbeResult[] = resources.map((r): ProbeResult => {
    switch (r.kind) {
      case 'file': return { kind: 'file', state: { exists: false } };
      case 'directory': return { kind: 'directory', state: { exists: false } };
      case 'packages': return { kind: 'packages', installed: new Set() };
      case 'service': return { kind: 'service', state: { enabled: 'unknown', active: 'unknown' } };
      case 'command': return { kind: 'command', run: true };
    }
  });
  for (const line of stdout.split('\n')) {
    const m = /^([FDPSCX]) (\d+) ?(.*)$/.exec(line);
    if (!m) continue;
    const res = results[Number(m[2])];
    if (!res) continue;
    const f = m[3].split(' ');
    if (m[1] === 'F' && res.kind === 'file' && f[0] !== '-') res.state = { exists: true, sha: f[0], owner: f[1], group: f[2], mode: f[3] };
    else if (m[1] === 'X' && res.kind === 'file') res.state.content = Buffer.from(m[3], 'base64').toString('utf8');
    else if (m[1] === 'D' && res.kind === 'directory' && f[0] !== '-') res.state = { exists: true, owner: f[0], group: f[1], mode: f[2] };
    else if (m[1] === 'P' && res.kind === 'packages' && f[1] === 'installed') res.installed.add(f[0].replace(/:.*$/, ''));
    else if (m[1] === 'S' && res.kind === 'service') res.state = { enabled: f[0] || 'unknown', active: f[1] || 'unknown' };
    else if (m[1] === 'C' && res.kind === 'command') res.run = f[0] === 'run';
  }
  return results;
}

export async function probe(t: Transport, resources: Resource[], withContent: boolean): Promise<ProbeResult[]> {
  if (resources.length === 0) return [];
  const r = await t.exec(probeScript(resources, withContent), { timeoutMs: 120_000 });
  return parseProbe(resources, r.stdout);
}
