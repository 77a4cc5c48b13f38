// The pgha inventory text of a mapped Ansible inventory, with comments: the decisions at the top, and one
// "not imported" line for every variable left out (before vars for the cluster, before a host for that host).
import { Document, isMap, isPair, isScalar, type Pair, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Mapped } from './map.js';
import type { Unmapped } from './settings.js';

export function commentLine(u: Unmapped): string {
  return ` not imported: ${u.name}${u.shown !== undefined ? `=${u.shown}` : ''} (${u.why}) [${u.where}]`;
}

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key) as Pair | undefined;
}

function before(pair: Pair | undefined, lines: string[]): void {
  if (!pair || !lines.length || !isScalar(pair.key)) return;
  const k = pair.key;
  k.commentBefore = [...(k.commentBefore ? [k.commentBefore] : []), ...lines].join('\n');
}

export function emitInventory(m: Mapped, source: string): string {
  const data: Record<string, unknown> = {
    cluster: m.cluster,
    provider: m.provider,
    network: { subnet: m.subnet, ...(m.vip ? { vip: m.vip } : {}) },
  };
  if (Object.keys(m.ssh).length) data.ssh = m.ssh;
  if (Object.keys(m.vars).length) data.vars = m.vars;
  if (m.groups.length)
    data.groups = Object.fromEntries(m.groups.map((g) => [g.name, { description: `Ansible group ${g.from}` }]));
  data.hosts = Object.fromEntries(
    m.hosts.map((h) => [
      h.name,
      {
        address: h.address,
        roles: h.roles,
        ...(h.groups.length ? { groups: h.groups } : {}),
        ...(Object.keys(h.ssh).length ? { ssh: h.ssh } : {}),
      },
    ]),
  );
  const doc = new Document(data);
  const root = doc.contents as YAMLMap;
  doc.commentBefore = [
    ` Imported from the Ansible inventory ${source} (pgha import ansible).`,
    ' Roles: Ansible groups master, replica and postgres_cluster -> postgres; etcd_cluster -> etcd; balancers -> haproxy.',
    " Variables: values after Ansible's precedence (all < parent groups < child groups < host); settings the hosts agree on",
    ' are cluster vars. Every field is described in src/inventory/schema.ts.',
    ...m.notes.map((n) => ` ${n}`),
  ].join('\n');

  const hosts = pairOf(root, 'hosts')!.value as YAMLMap;
  for (const h of m.hosts) {
    const pair = pairOf(hosts, h.name)!;
    const node = pair.value as YAMLMap;
    if (!h.ssh || !Object.keys(h.ssh).length) node.flow = true;
    else
      for (const k of ['roles', 'groups']) {
        const seq = pairOf(node, k)?.value as YAMLSeq | undefined;
        if (seq) seq.flow = true;
      }
    const lines = [
      ...(h.from !== h.name ? [` Ansible host ${h.from}`] : []),
      ...m.unmapped.filter((u) => u.host === h.name).map(commentLine),
    ];
    before(pair, lines);
  }
  const groups = pairOf(root, 'groups')?.value;
  if (isMap(groups)) for (const it of groups.items) (it.value as YAMLMap).flow = true;

  const clusterLines = m.unmapped.filter((u) => !u.host || !m.hosts.some((h) => h.name === u.host)).map(commentLine);
  const anchor = pairOf(root, 'vars') ?? pairOf(root, 'hosts');
  before(anchor, clusterLines);
  return doc.toString({ lineWidth: 0 });
}
