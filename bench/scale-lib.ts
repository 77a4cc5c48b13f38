// The pure parts of the scale benchmark (bench/scale.ts): inventories for N hosts, statistics, the table, and
// what the tools' outputs say.
import { summarize } from './compare-lib.js';

export interface Stats {
  min: number;
  median: number;
  max: number;
}

export function stats(xs: number[]): Stats {
  const { min, median, max } = summarize(xs);
  return { min, median, max };
}

export interface LabHostSpec {
  name: string;
  address: string;
}

/** N host names and addresses in a /24: h01, h02, ... from .11 up (at most 200 hosts). */
export function labHosts(n: number, subnet: string): LabHostSpec[] {
  const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(subnet);
  if (!m) throw new Error(`subnet ${subnet}: give a /24 such as 10.231.36.0/24`);
  if (!Number.isInteger(n) || n < 1 || n > 200) throw new Error(`${n} hosts: between 1 and 200`);
  const width = Math.max(2, String(n).length);
  return Array.from({ length: n }, (_, i) => ({
    name: `h${String(i + 1).padStart(width, '0')}`,
    address: `${m[1]}.${11 + i}`,
  }));
}

/** A pgha lab inventory of hosts without roles (only sshd): the hosts of `pgha lab up` and `pgha run`. */
export function pghaInventory(cluster: string, subnet: string, hosts: LabHostSpec[]): string {
  return [
    '# Written by the scale benchmark (bench/scale.ts): hosts with no role, only sshd.',
    `cluster: ${cluster}`,
    'provider: lab',
    'network:',
    `  subnet: ${subnet}`,
    'ssh:',
    '  user: root',
    'hosts:',
    ...hosts.map((h) => `  ${h.name}: {address: ${h.address}, roles: []}`),
    '',
  ].join('\n');
}

/** The same hosts as an Ansible INI inventory, reached with the lab's key and known_hosts file. */
export function ansibleInventory(
  cluster: string,
  hosts: LabHostSpec[],
  ssh: { key: string; knownHosts: string },
): string {
  const q = (s: string) => (/^[A-Za-z0-9_./:=-]+$/.test(s) ? s : JSON.stringify(s));
  return [
    '# Written by the scale benchmark (bench/scale.ts).',
    '[all]',
    ...hosts.map((h) => `${h.name} ansible_host=${h.address}`),
    '',
    '[all:vars]',
    'ansible_user=root',
    `ansible_ssh_private_key_file=${q(ssh.key)}`,
    `ansible_ssh_common_args=${q(`-o UserKnownHostsFile=${ssh.knownHosts} -o GlobalKnownHostsFile=/dev/null`)}`,
    `cluster=${q(cluster)}`,
    '',
  ].join('\n');
}

export interface RecapLine {
  host: string;
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
}

/** The PLAY RECAP lines of ansible-playbook's default output. */
export function ansibleRecap(stdout: string): RecapLine[] {
  const out: RecapLine[] = [];
  const re = /^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)/gm;
  for (let m = re.exec(stdout); m; m = re.exec(stdout))
    out.push({ host: m[1], ok: +m[2], changed: +m[3], unreachable: +m[4], failed: +m[5] });
  return out;
}

/** Why an Ansible run was not a clean no-op on all `hosts` (undefined when it was). */
export function ansibleNoopProblem(recap: RecapLine[], hosts: number): string | undefined {
  if (recap.length !== hosts) return `the recap lists ${recap.length} hosts, not ${hosts}`;
  const bad = recap.filter((r) => r.changed || r.unreachable || r.failed);
  if (bad.length)
    return `${bad.length} host${bad.length === 1 ? '' : 's'} changed or failed: ${bad
      .slice(0, 5)
      .map((r) => `${r.host} changed=${r.changed} unreachable=${r.unreachable} failed=${r.failed}`)
      .join(', ')}`;
  return undefined;
}

/** GNU time's `-f '%e %M'` output: elapsed seconds and the maximum resident set size in KiB (last line). */
export function parseGnuTime(text: string): { elapsed: number; maxRssKiB: number } {
  const line = text.trim().split('\n').pop() ?? '';
  const m = /^(\d+(?:\.\d+)?)\s+(\d+)$/.exec(line.trim());
  if (!m) throw new Error(`unexpected GNU time output: ${JSON.stringify(text.slice(-200))}`);
  return { elapsed: Number(m[1]), maxRssKiB: Number(m[2]) };
}

export interface SizeResult {
  hosts: number;
  pgha: number[]; // seconds of each timed no-op run
  ansible: number[];
  pghaMaxRssKiB: number[]; // per timed pgha run
  pghaRoundTrips?: { total: number; maxPerHost: number };
  load1?: number[]; // the machine's 1-minute load average at the start of each round
}

const f2 = (x: number) => x.toFixed(2);
const triple = (s: Stats) => `${f2(s.min)} / ${f2(s.median)} / ${f2(s.max)}`;

/** Markdown table: per size, min / median / max seconds of each tool, the ratio of medians, pgha's peak RSS. */
export function resultTable(results: SizeResult[]): string {
  const rows = results.map((r) => {
    const p = stats(r.pgha);
    const a = stats(r.ansible);
    const rss = Math.max(...r.pghaMaxRssKiB) / 1024;
    return `| ${r.hosts} | ${r.pgha.length} | ${triple(p)} | ${triple(a)} | ${f2(p.median / a.median)} | ${rss.toFixed(0)} MiB |`;
  });
  return [
    '| hosts | runs | pgha no-op, s (min / median / max) | Ansible no-op, s (min / median / max) | pgha / Ansible (medians) | pgha peak RSS |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
