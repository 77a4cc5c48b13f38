// A psql client on the control machine, for checks through the VIP as an application would connect.
import { spawnSync } from 'node:child_process';
import { psqlAt } from '../../bench/load.js';

export function ensurePsql(): void {
  if (spawnSync('sh', ['-c', 'command -v psql']).status === 0) return;
  const r = spawnSync(
    'sh',
    ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client'],
    { stdio: 'inherit' },
  );
  if (r.status !== 0) throw new Error('cannot install postgresql-client on the control machine');
}

export interface PsqlResult {
  ok: boolean;
  out: string;
  err: string;
}

/** One psql call: -A -t output, a connect timeout, and the password through the environment. */
export function psql(host: string, port: number, password: string, sql: string, timeoutMs = 5000): Promise<PsqlResult> {
  return psqlAt(host, port, password, sql, timeoutMs);
}
