// One read per host at the start of a run: the facts and guessed-resource probes of every step that will run on
// the host, the notification records, and the read-only scripts its checks run (Step.reads / Step.groupReads),
// in ONE remote script. While nothing has changed anywhere in the run, the runner plans each step from this read
// and answers its checks from it (./replay.ts); once a change was applied, later steps are read again as before.
// The sections run in parallel on the host; output that is not complete fails the run, as a probe's does.
import { randomBytes } from 'node:crypto';
import type { Host } from '../inventory/types.js';
import type { ExecResult, FactSpec, Facts, Resource, Step, StepContext, StepGroupContext, Transport } from './types.js';
import { RemoteError } from '../util/errors.js';
import { mask } from './mask.js';
import { shq } from './quote.js';
import { parseProbe, probeScript, type ProbeResult } from './probe.js';
import { KILL_AFTER_SEC, TIMED_OUT_CODES } from './remote.js';
import type { ReadResults } from './replay.js';

/** What the read holds for one step on one host. */
export interface StepRead {
  facts: Facts;
  guess: Resource[];
  probes: ProbeResult[];
}

/** What the read holds for one host. */
export interface HostRead {
  steps: Map<Step, StepRead>;
  /** The runner's own facts (the notification records), by name. */
  own: Facts;
  reads: ReadResults;
}

/** What one host's read is made of. */
export interface HostPlan {
  steps: { step: Step; specs: Record<string, FactSpec>; guess: Resource[] }[];
  own: Record<string, FactSpec>;
  reads: string[];
}

/** Seconds each check's script may run in the batch (a real exec gives its own limit; this one bounds the read). */
export const READ_TIMEOUT_SEC = 30;

/** Everything to read on each host for these steps (each with the hosts it runs on). */
export function planReads(
  steps: { step: Step; hosts: Host[] }[],
  hostContext: (h: Host) => StepContext,
  groupContext: (hosts: Host[]) => StepGroupContext,
  withFacts: (h: Host) => Record<string, FactSpec>,
): Map<string, HostPlan> {
  const plans = new Map<string, HostPlan>();
  const plan = (name: string) => {
    let p = plans.get(name);
    if (!p) plans.set(name, (p = { steps: [], own: {}, reads: [] }));
    return p;
  };
  const addRead = (host: string, script: string) => {
    const p = plan(host);
    if (!p.reads.includes(script)) p.reads.push(script);
  };
  for (const { step, hosts } of steps) {
    for (const h of hosts) {
      const ctx = hostContext(h);
      let guess: Resource[];
      try {
        const g = step.resources(ctx, {});
        if (!Array.isArray(g)) void g.catch(() => undefined); // planned asynchronously: read when it runs
        guess = Array.isArray(g) ? g : [];
      } catch {
        guess = [];
      }
      const p = plan(h.name);
      p.own = withFacts(h);
      p.steps.push({ step, specs: step.facts ? step.facts(ctx) : {}, guess });
      for (const s of step.reads?.(ctx) ?? []) addRead(h.name, s);
    }
    for (const r of step.groupReads?.(groupContext(hosts)) ?? []) addRead(r.host, r.script);
  }
  return plans;
}

/** The batch: every section in the background, each into files of its own; then their output in order. */
export function batchScript(p: HostPlan, b: string, withContent: boolean): string {
  const jobs: string[] = [];
  const show: string[] = [];
  const quiet = (name: string, script: string) => {
    const i = jobs.length;
    jobs.push(`( ( ${script}\n) 2>/dev/null || true ) >"$D/${i}" </dev/null &`);
    show.push(`echo ${shq(`${b} ${name}`)}\ncat "$D/${i}"`);
  };
  for (const [n, spec] of Object.entries(p.own)) quiet(`o ${n}`, spec.script);
  p.steps.forEach((s, k) => {
    for (const [n, spec] of Object.entries(s.specs)) quiet(`f ${k} ${n}`, spec.script);
    if (s.guess.length) {
      const i = jobs.length;
      jobs.push(`( ${probeScript(s.guess, withContent)}\n) >"$D/${i}" 2>/dev/null </dev/null &`);
      show.push(`echo ${shq(`${b} p ${k}`)}\ncat "$D/${i}"`);
    }
  });
  p.reads.forEach((script, j) => {
    const i = jobs.length;
    const end = `PGHA_READ_${b.slice(7)}`;
    // As a real exec runs it: sh reading the script on stdin, under timeout, stdin otherwise empty.
    jobs.push(
      `( LC_ALL=C.UTF-8 timeout -k ${KILL_AFTER_SEC} ${READ_TIMEOUT_SEC} sh -s >"$D/${i}" 2>"$D/${i}.e" <<'${end}'\n{\n${script}\n} </dev/null\n${end}\n echo $? >"$D/${i}.c" ) &`,
    );
    show.push(
      `echo ${shq(`${b} r ${j}`)}\ncat "$D/${i}"\necho ${shq(`${b} c ${j}`)}\ncat "$D/${i}.c"\necho ${shq(`${b} e ${j}`)}\ncat "$D/${i}.e"`,
    );
  });
  return ['D=$(mktemp -d) || exit 1', ...jobs, 'wait', ...show, 'rm -rf "$D"', `echo ${shq(`${b} @end`)}`].join('\n');
}

function sections(stdout: string, b: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of stdout.split(`${b} `).slice(1)) {
    const nl = part.indexOf('\n');
    out.set((nl < 0 ? part : part.slice(0, nl)).trim(), nl < 0 ? '' : part.slice(nl + 1));
  }
  return out;
}

function incomplete(t: Transport, what: string, stdout: string): RemoteError {
  return new RemoteError(
    t.host.name,
    `the read at the start of the run is incomplete (${what}): nothing was changed on this host`,
    mask(stdout.slice(-400)),
    'the remote shell or the connection ended early; run again, and check the host (memory, disk, sshd) if it repeats',
  );
}

function parseSpecs(
  t: Transport,
  specs: Record<string, FactSpec>,
  sec: Map<string, string>,
  key: (n: string) => string,
) {
  const facts: Facts = {};
  for (const n of Object.keys(specs)) {
    const out = sec.get(key(n));
    if (out === undefined) throw incomplete(t, `no output for fact ${n}`, '');
    try {
      facts[n] = specs[n]!.parse(out);
    } catch (e) {
      throw new RemoteError(t.host.name, `cannot read fact "${n}": ${(e as Error).message}`, mask(out.slice(0, 400)));
    }
  }
  return facts;
}

/** Runs one host's read (one round trip) and parses it; throws as a probe does when the output is incomplete. */
export async function readHostOnce(t: Transport, p: HostPlan, withContent: boolean): Promise<HostRead> {
  const b = `@@PGHA-${randomBytes(6).toString('hex')}`;
  const r = await t.exec(batchScript(p, b, withContent), { timeoutMs: (READ_TIMEOUT_SEC + 60) * 1000 });
  const sec = sections(r.stdout, b);
  if (!sec.has('@end'))
    throw incomplete(
      t,
      `no end marker; exit ${r.code}${r.stderr.trim() ? `: ${r.stderr.trim().slice(-200)}` : ''}`,
      r.stdout,
    );
  const own = parseSpecs(t, p.own, sec, (n) => `o ${n}`);
  const steps = new Map<Step, StepRead>();
  p.steps.forEach((s, k) => {
    const facts = parseSpecs(t, s.specs, sec, (n) => `f ${k} ${n}`);
    let probes: ProbeResult[] = [];
    if (s.guess.length) {
      try {
        probes = parseProbe(s.guess, sec.get(`p ${k}`) ?? '');
      } catch (e) {
        throw incomplete(t, `${s.step.id}: ${(e as Error).message}`, sec.get(`p ${k}`) ?? '');
      }
    }
    steps.set(s.step, { facts, guess: s.guess, probes });
  });
  const reads: ReadResults = new Map();
  p.reads.forEach((script, j) => {
    const code = Number((sec.get(`c ${j}`) ?? '').trim());
    if (!sec.has(`r ${j}`) || !sec.has(`e ${j}`) || (sec.get(`c ${j}`) ?? '').trim() === '' || !Number.isInteger(code))
      throw incomplete(t, `no exit status for check read ${j + 1} of ${p.reads.length}`, r.stdout);
    const res: ExecResult = { stdout: sec.get(`r ${j}`)!.trim(), stderr: sec.get(`e ${j}`)!.trim(), code };
    // A script the batch's time limit ended has no answer here: a check that runs it runs against the host.
    if (!TIMED_OUT_CODES.includes(code)) reads.set(script, res);
  });
  return { steps, own, reads };
}
