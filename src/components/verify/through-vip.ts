// The SQL part of the end-to-end check, in ONE round trip on the host psql runs on: a write through the primary
// port, then (after a write on the primary) the row read back through the replica port, polled on the host until it
// is there or the wait is over, then several separate connections through the all-members port. Each part's exit
// status, output and errors come back in sections of their own; verifyCluster judges them.
import { randomBytes } from 'node:crypto';
import { shq } from '../../engine/quote.js';

export interface SqlPart {
  code: number;
  out: string;
  err: string;
}

export interface ThroughVip {
  write: SqlPart;
  /** Absent when the write failed (nothing to read back). */
  read?: SqlPart & { waitedMs: number };
  many?: SqlPart;
}

export interface ThroughVipPlan {
  /** The psql command for a port and SQL (the password is exported by the script). */
  psql(port: number, sql: string): string;
  password: string;
  write: { port: number; sql: string };
  read: { port: number; sql: string; timeoutMs: number; intervalMs: number };
  many: { port: number; sql: string; times: number };
}

export function throughVipScript(p: ThroughVipPlan, b: string): string {
  const section = (name: string, extra = '') =>
    `printf '%s\\n' "${b} ${name} $pgha_c${extra}" "$pgha_o" "${b} ${name}-err"; cat "$pgha_e"`;
  return [
    `export PGPASSWORD=${shq(p.password)}`,
    'pgha_e=$(mktemp) || exit 1',
    `pgha_o=$(${p.psql(p.write.port, p.write.sql)} 2>"$pgha_e"); pgha_c=$?`,
    section('write'),
    'if [ $pgha_c -eq 0 ] && [ "${pgha_o##*|}" = false ]; then',
    '  pgha_t0=$(date +%s%N)',
    '  while :; do',
    `    pgha_o=$(${p.psql(p.read.port, p.read.sql)} 2>"$pgha_e"); pgha_c=$?`,
    '    pgha_ms=$(( ($(date +%s%N) - pgha_t0) / 1000000 ))',
    `    if [ $pgha_c -eq 0 ] && [ "\${pgha_o#*|}" = 'true|1' ]; then break; fi`,
    `    [ $((pgha_ms + ${p.read.intervalMs})) -gt ${p.read.timeoutMs} ] && break`,
    `    sleep ${p.read.intervalMs / 1000}`,
    '  done',
    `  ${section('read', ' $pgha_ms')}`,
    `  pgha_o=$(i=0; while [ $i -lt ${p.many.times} ]; do ${p.psql(p.many.port, p.many.sql)} || exit $?; i=$((i+1)); done 2>"$pgha_e"); pgha_c=$?`,
    `  ${section('many')}`,
    'fi',
    'rm -f "$pgha_e"',
    `echo "${b} end"`,
  ].join('\n');
}

/** The parts as the script printed them; a part the script did not reach is absent. */
export function parseThroughVip(stdout: string, b: string): ThroughVip | undefined {
  const part = (name: string): (SqlPart & { extra: string[] }) | undefined => {
    const head = new RegExp(`^${b} ${name} (-?\\d+)((?: \\S+)*)$`, 'm').exec(stdout);
    if (!head) return undefined;
    const rest = stdout.slice(head.index + head[0].length + 1);
    const errAt = rest.indexOf(`${b} ${name}-err\n`);
    if (errAt < 0) return undefined;
    const after = rest.slice(errAt + `${b} ${name}-err\n`.length);
    const next = after.indexOf(`${b} `);
    return {
      code: Number(head[1]),
      extra: head[2]!.trim().split(' ').filter(Boolean),
      out: rest.slice(0, errAt).trim(),
      err: (next < 0 ? after : after.slice(0, next)).trim(),
    };
  };
  const w = part('write');
  if (!w || !stdout.includes(`${b} end`)) return undefined;
  const r = part('read');
  const m = part('many');
  return {
    write: { code: w.code, out: w.out, err: w.err },
    ...(r ? { read: { code: r.code, out: r.out, err: r.err, waitedMs: Number(r.extra[0] ?? 0) } } : {}),
    ...(m ? { many: { code: m.code, out: m.out, err: m.err } } : {}),
  };
}

/** A boundary for the sections (random: no output can fake one). */
export function boundary(): string {
  return `@@pgha-vip-${randomBytes(6).toString('hex')}`;
}
