// The files that put the inventory's CA certificate and a host's certificate and key on the host, for one service:
// in a folder of its own, the key readable by the service's user only. Other services call it with their folder
// and user (e.g. /etc/etcd/tls, etcd).
import type { FileResource, Notify, StepContext } from '../../engine/types.js';
import { ensureHostCert } from './ca.js';

export interface TlsPaths {
  ca: string;
  cert: string;
  key: string;
}

/** Where a service's copies live in its folder `dir`. */
export function tlsPaths(dir: string): TlsPaths {
  return { ca: `${dir}/ca.crt`, cert: `${dir}/host.crt`, key: `${dir}/host.key` };
}

/**
 * ca.crt and host.crt (0644) and host.key (0600, owned by `owner`) in `dir`. In plan mode nothing is made on this
 * machine: a host without a current certificate is shown with placeholder content (it would be issued).
 */
export function tlsFiles(ctx: StepContext, o: { dir: string; owner: string; group?: string; notify?: Notify[] }) {
  const p = tlsPaths(o.dir);
  const got = ensureHostCert(ctx.inventory, ctx.host, !ctx.check);
  const pending = '(a certificate pgha would issue)\n';
  const files: FileResource[] = [
    { kind: 'file', path: p.ca, content: got?.ca ?? pending, mode: '0644', notify: o.notify },
    { kind: 'file', path: p.cert, content: got?.cert ?? pending, mode: '0644', notify: o.notify },
    {
      kind: 'file',
      path: p.key,
      content: got?.key ?? pending,
      owner: o.owner,
      group: o.group ?? o.owner,
      mode: '0600',
      secret: true,
      notify: o.notify,
    },
  ];
  return files;
}
