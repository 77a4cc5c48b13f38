// etcd facts and parsers for etcdctl's JSON output (3.4: ids are uint64 JSON numbers; zero fields omitted).
import type { FactSpec } from '../../engine/types.js';
import { argvToShell, shq } from '../../engine/quote.js';
import { obj, parseJsonBig, toHexId } from '../common.js';
import type { EtcdClient } from './tls.js';

export interface EtcdMember {
  id: string; // hex
  name: string; // '' until the member has started once
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

export interface EtcdMemberList {
  clusterId: string; // hex
  memberId: string; // hex, the member that answered
  members: EtcdMember[];
}

export interface EtcdEndpointStatus {
  endpoint: string;
  clusterId: string;
  memberId: string;
  leader: string; // hex, '0' when none
  version: string;
  raftTerm: string;
  isLearner: boolean;
  errors: string[];
}

export interface EtcdHealth {
  endpoint: string;
  health: boolean;
  error: string;
}

/**
 * `ETCDCTL_API=3 etcdctl --endpoints=… [--cacert --cert --key] <args>` with short timeouts. With TLS the client
 * shows the certificate of `client.tls` (files on the host; the command carries their paths only); with a
 * fallback, the same call goes there when the endpoints do not answer (exit status of the last call).
 */
export function etcdctl(client: EtcdClient, args: string[]): string {
  const tls = client.tls
    ? ` --cacert=${shq(client.tls.ca)} --cert=${shq(client.tls.cert)} --key=${shq(client.tls.key)}`
    : '';
  const run = (eps: string[]) =>
    `ETCDCTL_API=3 etcdctl --endpoints=${shq(eps.join(','))}${tls} --dial-timeout=2s --command-timeout=4s ${argvToShell(args)}`;
  // The fallback keeps the certificate: a plain member's --cluster answers may name https members. What a failed
  // first call printed (etcdctl prints its JSON even when it fails) is dropped: one answer only.
  return client.fallback?.length
    ? `{ pgha_etcd_out=$(${run(client.endpoints)} 2>/dev/null) && printf '%s\\n' "$pgha_etcd_out" || ${run(client.fallback)}; }`
    : run(client.endpoints);
}

function strs(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** `member list -w json`; null when the text is empty or not a member list. */
export function parseMemberList(text: string): EtcdMemberList | null {
  const t = text.trim();
  if (!t.startsWith('{')) return null;
  let doc: Record<string, unknown>;
  try {
    doc = obj(parseJsonBig(t));
  } catch {
    return null;
  }
  if (!Array.isArray(doc.members)) return null;
  const header = obj(doc.header);
  return {
    clusterId: toHexId(header.cluster_id),
    memberId: toHexId(header.member_id),
    members: doc.members.map((m) => {
      const o = obj(m);
      return {
        id: toHexId(o.ID),
        name: typeof o.name === 'string' ? o.name : '',
        peerURLs: strs(o.peerURLs),
        clientURLs: strs(o.clientURLs),
        isLearner: o.isLearner === true,
      };
    }),
  };
}

/** `endpoint status [--cluster] -w json` (an array; unreachable endpoints are simply absent). */
export function parseEndpointStatus(text: string): EtcdEndpointStatus[] {
  const t = text.trim();
  if (!t.startsWith('[')) return [];
  let doc: unknown;
  try {
    doc = parseJsonBig(t);
  } catch {
    return [];
  }
  if (!Array.isArray(doc)) return [];
  return doc.map((e) => {
    const o = obj(e);
    const st = obj(o.Status);
    const header = obj(st.header);
    return {
      endpoint: typeof o.Endpoint === 'string' ? o.Endpoint : '',
      clusterId: toHexId(header.cluster_id),
      memberId: toHexId(header.member_id),
      leader: st.leader === undefined ? '0' : toHexId(st.leader),
      version: typeof st.version === 'string' ? st.version : '',
      raftTerm: st.raftTerm === undefined ? '0' : String(st.raftTerm),
      isLearner: st.isLearner === true,
      errors: strs(st.errors),
    };
  });
}

/** `endpoint health [--cluster] -w json`. */
export function parseEndpointHealth(text: string): EtcdHealth[] {
  const t = text.trim();
  if (!t.startsWith('[')) return [];
  let doc: unknown;
  try {
    doc = JSON.parse(t);
  } catch {
    return [];
  }
  if (!Array.isArray(doc)) return [];
  return doc.map((e) => {
    const o = obj(e);
    return {
      endpoint: typeof o.endpoint === 'string' ? o.endpoint : '',
      health: o.health === true,
      error: typeof o.error === 'string' ? o.error : '',
    };
  });
}

export const installedFact = (pkg: string): FactSpec<boolean> => ({
  script: `dpkg-query -W -f='\${Status}' ${shq(pkg)} 2>/dev/null || true`,
  parse: (out) => out.includes('install ok installed'),
});

/** Whether pgha's data dir already holds a member (the cluster was formed or joined from here). */
export const memberDataFact = (dataDir: string): FactSpec<boolean> => ({
  script: `if test -d ${shq(`${dataDir}/member`)}; then echo yes; else echo no; fi`,
  parse: (out) => out.trim() === 'yes',
});

/** The member list as seen by any reachable inventory endpoint (null: no cluster answers, or no etcdctl yet). */
export const peersFact = (client: EtcdClient): FactSpec<EtcdMemberList | null> => ({
  script: `if command -v etcdctl >/dev/null 2>&1; then ${etcdctl(client, ['member', 'list', '-w', 'json'])} 2>/dev/null || true; fi`,
  parse: parseMemberList,
});
