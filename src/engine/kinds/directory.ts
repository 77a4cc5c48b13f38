// directory: created, chowned and chmodded as needed.
import { shq } from '../quote.js';
import { attrsDiffer, type Kind } from './kind.js';

export interface DirectoryResource {
  kind: 'directory';
  path: string;
  owner?: string;
  group?: string;
  mode?: string; // default '0755'
}

export interface DirState {
  exists: boolean;
  owner?: string;
  group?: string;
  mode?: string;
}
export interface DirectoryProbe {
  kind: 'directory';
  state: DirState;
}
export type DirectoryOp = { op: 'mkdir' };

export const directoryKind: Kind<DirectoryResource, DirectoryProbe, DirectoryOp> = {
  kind: 'directory',
  describe: (r) => `directory ${r.path}`,
  identity: (r) => `dir ${r.path}`,
  tags: 'D',
  probe(r, i) {
    const p = shq(r.path);
    return `if [ -d ${p} ]; then echo "D ${i} $(stat -c '%U %G %a' ${p})"; else echo "D ${i} -"; fi`;
  },
  unprobed: () => ({ kind: 'directory', state: { exists: false } }),
  read(p, tag, rest) {
    const f = rest.split(' ');
    if (tag === 'D' && f[0] !== '-') p.state = { exists: true, owner: f[0], group: f[1], mode: f[2] };
  },
  plan(r, p) {
    if (!p.state.exists) return { summary: `create directory ${r.path}`, ops: [{ op: 'mkdir' }] };
    const d = attrsDiffer(r, p.state, '0755');
    return d.length ? { summary: `${r.path}: ${d.join(', ')}`, ops: [{ op: 'mkdir' }] } : undefined;
  },
  script: (r) =>
    `set -e\n(umask 022; mkdir -p "$(dirname ${shq(r.path)})")\numask 077\nmkdir -p ${shq(r.path)}\nchown ${shq(`${r.owner ?? 'root'}:${r.group ?? 'root'}`)} ${shq(r.path)}\nchmod ${shq(r.mode ?? '0755')} ${shq(r.path)}`,
};
