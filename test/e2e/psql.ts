// A psql client on the control machine, for checks through the VIP as an application would connect.
import { spawn, spawnSync } from 'node:child_process';

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
  return new Promise((resolve) => {
    const p = spawn(
      'psql',
      [
        '-X',
        '-A',
        '-t',
        '-v',
        'ON_ERROR_STOP=1',
        '-h',
        host,
        '-p',
        String(port),
        '-U',
        'postgres',
        '-d',
        'postgres',
        '-c',
        sql,
      ],
      {
        env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '3' },
      },
    );
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, out: out.trim(), err: err.trim() });
    });
  });
}
