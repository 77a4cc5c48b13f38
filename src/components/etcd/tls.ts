// etcd with tls_enabled: where the certificates live, how pgha's own etcdctl calls reach a member, and which
// configuration a member gets (plain, prep or secure) from what it runs now.
//
// A plain cluster is moved to TLS in place, one member at a time, as etcd's documentation describes for URL
// changes. First every member gets its certificates while its URLs stay http (prep; a restart), so that it can
// dial https peers with a client certificate. Then each member in turn is switched: its peer URL changed with
// `etcdctl member update`, followed at once by a restart with https peer and client URLs only (secure). Patroni
// switches to https once the first member is secure: Patroni follows the client URLs the members advertise, each
// with its own scheme, so both an http and an https Patroni reach a cluster in the middle of the move. (etcd 3.4
// cannot serve http and https on one client port: its plain gRPC gateway then fails, so no member ever does.)
// A secure member never goes back to plain in place.
import type { Host, Inventory } from '../../inventory/types.js';
import type { FileResource, StepContext } from '../../engine/types.js';
import { tlsEnabled } from '../tls/settings.js';
import { tlsFiles, tlsPaths, type TlsPaths } from '../tls/files.js';
import { etcdSettings } from './settings.js';

/** etcd's copies of the CA and of the host's certificate and key (the key owned by etcd). */
export const ETCD_TLS_DIR = '/etc/etcd/tls';
/** Patroni's copies, its client certificate for etcd (the key owned by postgres, mode 0600). */
export const PATRONI_ETCD_TLS_DIR = '/etc/patroni/etcd-tls';

export type EtcdPhase = 'plain' | 'prep' | 'secure';

/** The endpoints an etcdctl call goes to, and the client certificate it shows (with TLS). */
export interface EtcdClient {
  endpoints: string[];
  tls?: TlsPaths;
  /** Plain endpoints tried when `endpoints` do not answer: a member not switched yet (during the move to TLS). */
  fallback?: string[];
}

type Inv = Pick<Inventory, 'file' | 'cluster'>;

export function etcdTls(inv: Pick<Inventory, 'file'>, host: Host): boolean {
  return tlsEnabled(inv, host);
}

/** Patroni's etcd3 TLS settings (undefined without TLS: plain http as before). */
export function patroniEtcdTls(inv: Pick<Inventory, 'file'>, host: Host): TlsPaths | undefined {
  return etcdTls(inv, host) ? tlsPaths(PATRONI_ETCD_TLS_DIR) : undefined;
}

/**
 * Patroni's client certificate for etcd, key readable by postgres only. A certificate issued again needs no restart:
 * Patroni's HTTP client reads the files again for each new connection.
 */
export function patroniEtcdTlsFiles(ctx: StepContext): FileResource[] {
  return etcdTls(ctx.inventory, ctx.host) ? tlsFiles(ctx, { dir: PATRONI_ETCD_TLS_DIR, owner: 'postgres' }) : [];
}

/** A member's client URL on its own address (https with TLS). */
export function clientUrl(inv: Inv, host: Host): string {
  const scheme = etcdTls(inv, host) ? 'https' : 'http';
  return `${scheme}://${host.address}:${etcdSettings(inv, host).etcdClientPort}`;
}

export function peerUrl(inv: Inv, host: Host, scheme: 'http' | 'https'): string {
  return `${scheme}://${host.address}:${etcdSettings(inv, host).etcdPeerPort}`;
}

/** Whether a URL of a member list is this host's peer URL, whatever its scheme. */
export function isPeerUrlOf(inv: Inv, host: Host, url: string): boolean {
  return url.replace(/^https?:\/\//, '') === `${host.address}:${etcdSettings(inv, host).etcdPeerPort}`;
}

/**
 * How pgha's own etcdctl calls on an etcd host reach its member. With TLS: the host's address over https with
 * etcd's certificate (pgha runs them as root); there is no loopback listener then, since the certificate names the
 * host's name and address only, and a plain loopback port would let any local user past the client-certificate
 * check. Without TLS: the plain loopback listener, as always.
 */
export function localClient(inv: Inv, host: Host): EtcdClient {
  const loopback = `http://127.0.0.1:${etcdSettings(inv, host).etcdClientPort}`;
  if (!etcdTls(inv, host)) return { endpoints: [loopback] };
  // Until this member is switched (move to TLS) it still has its plain loopback listener.
  return { endpoints: [clientUrl(inv, host)], tls: tlsPaths(ETCD_TLS_DIR), fallback: [loopback] };
}

/** A client of every member (the facts of one host that asks any member that answers). */
export function membersClient(inv: Inv, self: Host, members: Host[]): EtcdClient {
  if (!etcdTls(inv, self)) return { endpoints: members.map((h) => clientUrl(inv, h)) };
  return {
    endpoints: members.map((h) => clientUrl(inv, h)),
    tls: tlsPaths(ETCD_TLS_DIR),
    fallback: members.map((h) => `http://${h.address}:${etcdSettings(inv, h).etcdClientPort}`),
  };
}

/** The scheme of the peer URL a member's /etc/default/etcd advertises (undefined: no such file or line). */
export function advertisedPeerScheme(etcdDefault: string): 'http' | 'https' | undefined {
  const m = /^ETCD_INITIAL_ADVERTISE_PEER_URLS="?(https?):\/\//m.exec(etcdDefault);
  return m ? (m[1] as 'http' | 'https') : undefined;
}

/** Whether a member's /etc/default/etcd already has TLS (prep or secure). */
export function hasTls(etcdDefault: string): boolean {
  return /^ETCD_CERT_FILE=/m.test(etcdDefault);
}

/**
 * The configuration a member gets. Without TLS: plain. With TLS: a member not formed yet starts secure; a formed
 * member whose peer URL is already https stays secure; a formed member still on http peers gets prep (its
 * certificates ready, its URLs still http) until the secure steps switch it.
 */
export function etcdPhase(tls: boolean, formed: boolean, etcdDefault: string): EtcdPhase {
  if (!tls) return 'plain';
  if (!formed) return 'secure';
  return advertisedPeerScheme(etcdDefault) === 'https' ? 'secure' : 'prep';
}

/** The reason a member cannot be configured in place, if any: TLS is never taken away from a running member. */
export function inPlaceProblem(tls: boolean, formed: boolean, etcdDefault: string): string | undefined {
  if (tls || !formed || advertisedPeerScheme(etcdDefault) !== 'https') return undefined;
  return 'this etcd member runs with TLS (https peer URLs): moving it back to plain http is not done in place';
}
