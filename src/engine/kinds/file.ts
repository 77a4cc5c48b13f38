// file: compared by sha256 and owner/group/mode; written through a temp file beside the target, validated,
// renamed over it, the previous version kept under the backup directory.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Notify } from '../types.js';
import { MASK, mask } from '../mask.js';
import { shq } from '../quote.js';
import { attrsDiffer, type Kind } from './kind.js';

export interface FileResource {
  kind: 'file';
  path: string;
  content: string;
  owner?: string; // default root
  group?: string; // default root
  mode?: string; // octal, default '0644'
  /** Shell command run against the new file before it replaces the old one; `%s` is the temp file's path. */
  validate?: string;
  /** Content holds secrets: never shown in a diff. */
  secret?: boolean;
  notify?: Notify[];
}

export interface FileState {
  exists: boolean;
  sha?: string;
  owner?: string;
  group?: string;
  mode?: string;
  content?: string;
}
export interface FileProbe {
  kind: 'file';
  state: FileState;
}
export type FileOp = { op: 'write' } | { op: 'attrs' }; // content differs: temp file, validate, rename | only owner/group/mode

/** Where the previous version of a replaced file is kept on a host. */
export const BACKUP_DIR = '/var/lib/pgha/backup';

/** Current content larger than this is not read back for a diff. */
const MAX_DIFF_BYTES = 256 * 1024;

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** Values of keys that look like credentials, for files that hold secrets (on top of the known secrets). */
const CREDENTIAL_LINE = /^([-+ ]\s*[\w.-]*(password|passwd|secret|auth_pass|token)\s*[:=]\s*).+$/i;

/** The diff library, loaded on the first diff (plan, --diff) only. */
let diffLib: typeof import('diff') | undefined;

export function fileDiff(
  path: string,
  before: string,
  after: string,
  secret?: boolean,
  unknownBefore?: boolean,
): string {
  if (unknownBefore) return `--- ${path}\n+++ ${path}\n(current file too large to show)\n`;
  diffLib ??= createRequire(import.meta.url)('diff') as typeof import('diff');
  const lines = mask(diffLib.createTwoFilesPatch(path, path, before, after, '', '', { context: 3 }))
    .split('\n')
    .filter((l) => !/^={10,}$/.test(l) && !l.startsWith('Index: '))
    .map((l) => (/^(---|\+\+\+) /.test(l) ? l.trimEnd() : l));
  // Every known secret is masked already; in a file that holds secrets, credential-looking values are too.
  return (secret ? lines.map((l) => l.replace(CREDENTIAL_LINE, `$1${MASK}`)) : lines).join('\n');
}

function fileScript(r: FileResource, op: FileOp['op'], backupDir = BACKUP_DIR): string {
  const p = shq(r.path);
  const owner = shq(`${r.owner ?? 'root'}:${r.group ?? 'root'}`);
  const mode = shq(r.mode ?? '0644');
  if (op === 'attrs') return `set -e\nchown ${owner} ${p}\nchmod ${mode} ${p}`;
  const tmp = `"$d/.pgha-$(basename ${p}).$$"`;
  const validate = r.validate
    ? `if ! out=$(${r.validate.split('%s').join('"$tmp"')} 2>&1); then echo "$out" >&2; rm -f "$tmp"; echo "validation failed: ${r.validate.replace(/["$`\\]/g, '\\$&')}" >&2; exit 3; fi\n`
    : '';
  // The content travels as data: base64 in a here-document of the script, which the transport sends on stdin
  // (one round trip, no quoting issues, never on a command line). umask 077: the temp file holds the content
  // (secrets, maybe) before its chmod, and is never readable by others meanwhile.
  return [
    'set -e',
    'umask 077',
    // Missing parents are created 0755 (readable by the services that read the file), not under umask 077.
    `d=$(dirname ${p}); [ -d "$d" ] || (umask 022; mkdir -p "$d"); tmp=${tmp}`,
    `trap 'rm -f "$tmp"' EXIT`,
    `base64 -d > "$tmp" <<'PGHA_EOF'`,
    Buffer.from(r.content, 'utf8')
      .toString('base64')
      .replace(/.{1,76}/g, '$&\n')
      .trimEnd(),
    'PGHA_EOF',
    `chown ${owner} "$tmp"; chmod ${mode} "$tmp"`,
    validate.trimEnd(),
    `if [ -e ${p} ]; then mkdir -p ${shq(backupDir)}"$d"; cp -p ${p} ${shq(backupDir)}${p}; fi`,
    `mv -f "$tmp" ${p}`,
    'trap - EXIT',
    // A changed unit file is read by systemd before any service action that follows.
    /^\/(etc|lib|usr\/lib)\/systemd\/system\//.test(r.path) ? 'systemctl daemon-reload' : '',
  ]
    .filter(Boolean)
    .join('\n');
}

export const fileKind: Kind<FileResource, FileProbe, FileOp> = {
  kind: 'file',
  describe: (r) => `file ${r.path}`,
  identity: (r) => `file ${r.path}`,
  tags: 'FX',
  probe(r, i, withContent) {
    const p = shq(r.path);
    const content = withContent
      ? `; if [ "$(stat -c %s ${p})" -le ${MAX_DIFF_BYTES} ]; then echo "X ${i} $(base64 -w0 < ${p})"; fi`
      : '';
    return `if [ -f ${p} ]; then echo "F ${i} $(sha256sum < ${p} | cut -d' ' -f1) $(stat -c '%U %G %a' ${p})"${content}; else echo "F ${i} -"; fi`;
  },
  unprobed: () => ({ kind: 'file', state: { exists: false } }),
  read(p, tag, rest) {
    const f = rest.split(' ');
    if (tag === 'F' && f[0] !== '-') p.state = { exists: true, sha: f[0], owner: f[1], group: f[2], mode: f[3] };
    else if (tag === 'X') p.state.content = Buffer.from(rest, 'base64').toString('utf8');
  },
  plan(r, p, withDiff) {
    const s = p.state;
    if (!s.exists)
      return {
        summary: `create ${r.path}`,
        ops: [{ op: 'write' }],
        diff: withDiff ? fileDiff(r.path, '', r.content, r.secret) : undefined,
      };
    if (s.sha !== sha256(r.content)) {
      return {
        summary: `update ${r.path}`,
        ops: [{ op: 'write' }],
        diff: withDiff ? fileDiff(r.path, s.content ?? '', r.content, r.secret, s.content === undefined) : undefined,
      };
    }
    const d = attrsDiffer(r, s, '0644');
    return d.length ? { summary: `${r.path}: ${d.join(', ')}`, ops: [{ op: 'attrs' }] } : undefined;
  },
  script: (r, op, opts) => fileScript(r, op.op, opts.backupDir),
  failure: (r) => ({
    hint: r.validate ? `the new ${r.path} did not pass "${r.validate}"; the old file is untouched` : undefined,
  }),
};
