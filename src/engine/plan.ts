// From desired resources and probed state to changes. Plan and apply both start here.
import { createTwoFilesPatch } from 'diff';
import type { Resource } from './types.js';
import { type ProbeResult, sha256 } from './probe.js';
import { MASK, mask } from './mask.js';
import { argvToShell } from './quote.js';

export interface PlannedChange {
  index: number; // position of the resource in the step's list
  resource: Resource;
  summary: string;
  diff?: string;
  /** What exactly to do (for apply). */
  ops: Op[];
}

export type Op =
  | { op: 'write' } // content differs: temp file, validate, rename
  | { op: 'attrs' } // only owner/group/mode differ
  | { op: 'mkdir' }
  | { op: 'install'; names: string[] }
  | { op: 'enable' | 'disable' | 'start' | 'stop' }
  | { op: 'run' };

const octal = (m: string | undefined, dflt: string) => parseInt(m ?? dflt, 8);

export function describe(r: Resource): string {
  switch (r.kind) {
    case 'file': return `file ${r.path}`;
    case 'directory': return `directory ${r.path}`;
    case 'packages': return `packages ${r.names.join(' ')}`;
    case 'service': return `service ${r.name}`;
    case 'command': return `command: ${r.label}`;
  }
}

function attrsDiffer(want: { owner?: string; group?: string; mode?: string }, have: { owner?: string; group?: string; mode?: string }, dfltMode: string): string[] {
  const out: string[] = [];
  if ((want.owner ?? 'root') !== have.owner) out.push(`owner ${have.owner} -> ${want.owner ?? 'root'}`);
  if ((want.group ?? 'root') !== have.group) out.push(`group ${have.group} -> ${want.group ?? 'root'}`);
  if (octal(want.mode, dfltMode) !== octal(have.mode, '0')) out.push(`mode ${have.mode} -> ${(want.mode ?? dfltMode).replace(/^0?/, '0')}`);
  return out;
}

export function planChanges(resources: Resource[], probes: ProbeResult[], withDiff: boolean): PlannedChange[] {
  const changes: PlannedChange[] = [];
  resources.forEach((r, index) => {
    const p = probes[index];
    const add = (summary: string, ops: Op[], diff?: string) => changes.push({ index, resource: r, summary, ops, diff });
    if (r.kind === 'file' && p.kind === 'file') {
      const s = p.state;
      if (!s.exists) {
        add(`create ${r.path}`, [{ op: 'write' }], withDiff ? fileDiff(r.path, '', r.content, r.secret) : undefined);
      } else if (s.sha !== sha256(r.content)) {
        add(`update ${r.path}`, [{ op: 'write' }], withDiff ? fileDiff(r.path, s.content ?? '', r.content, r.secret, s.content === undefined) : undefined);
      } else {
        const d = attrsDiffer(r, s, '0644');
        if (d.length) add(`${r.path}: ${d.join(', ')}`, [{ op: 'attrs' }]);
      }
    } else if (r.kind === 'directory' && p.kind === 'directory') {
      if (!p.state.exists) add(`create directory ${r.path}`, [{ op: 'mkdir' }]);
      else {
        const d = attrsDiffer(r, p.state, '0755');
        if (d.length) add(`${r.path}: ${d.join(', ')}`, [{ op: 'mkdir' }]);
      }
    } else if (r.kind === 'packages' && p.kind === 'packages') {
      const missing = r.names.filter((n) => !p.installed.has(n.replace(/[=:].*$/, '')));
      if (missing.length) add(`install ${missing.join(' ')}`, [{ op: 'install', names: missing }]);
    } else if (r.kind === 'service' && p.kind === 'service') {
      const ops: Op[] = [];
      const words: string[] = [];
      const enabled = ['enabled', 'enabled-runtime', 'static', 'alias', 'indirect', 'generated'].includes(p.state.enabled);
      if (r.enabled === true && !enabled) { ops.push({ op: 'enable' }); words.push('enable'); }
      if (r.enabled === false && p.state.enabled === 'enabled') { ops.push({ op: 'disable' }); words.push('disable'); }
      const active = p.state.active === 'active' || p.state.active === 'reloading' || p.state.active === 'activating';
      if (r.state === 'started' && !active) { ops.push({ op: 'start' }); words.push(p.state.active === 'failed' ? 'start (was failed)' : 'start'); }
      if (r.state === 'stopped' && active) { ops.push({ op: 'stop' }); words.push('stop'); }
      if (ops.length) add(`${words.join(' + ')} ${r.name}`, ops);
    } else if (r.kind === 'command' && p.kind === 'command') {
      if (p.run) add(`run: ${r.label}`, [{ op: 'run' }], withDiff ? commandPreview(r.argv ? argvToShell(r.argv) : (r.script ?? '')) : undefined);
    }
  });
  return changes;
}

/** The first lines of a command, masked (plan shows what would run, not pages of script). */
function commandPreview(cmd: string, lines = 4): string {
  const all = mask(cmd).split('\n');
  return `$ ${all.slice(0, lines).join('\n  ')}${all.length > lines ? `\n  ... (${all.length - lines} more lines)` : ''}`;
}

/** Values of keys that look like credentials, for files that hold secrets (on top of the known secrets). */
const CREDENTIAL_LINE = /^([-+ ]\s*[\w.-]*(password|passwd|secret|auth_pass|token)\s*[:=]\s*).+$/i;

export function fileDiff(path: string, before: string, after: string, secret?: boolean, unknownBefore?: boolean): string {
  if (unknownBefore) return `--- ${path}\n+++ ${path}\n(current file too large to show)\n`;
  const lines = mask(createTwoFilesPatch(path, path, before, after, '', '', { context: 3 }))
    .split('\n')
    .filter((l) => !/^={10,}$/.test(l) && !l.startsWith('Index: '))
    .map((l) => (/^(---|\+\+\+) /.test(l) ? l.trimEnd() : l));
  // Every known secret is masked already; in a file that holds secrets, credential-looking values are too.
  return (secret ? lines.map((l) => l.replace(CREDENTIAL_LINE, `$1${MASK}`)) : lines).join('\n');
}
