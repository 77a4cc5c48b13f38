// A bounded client load through the VIP, as an application would make it: one psql per statement, writes of
// numbered rows through the primary port and reads through the all-members port, each with a connect timeout.
// Used by the day-2 benchmark and the end-to-end tests to count failed writes and reads and the longest time
// without an acknowledged write.
import { spawn } from 'node:child_process';

export interface LoadTarget {
  host: string;
  password: string;
  writePort?: number;
  readPort?: number;
  /** Table the writes go to (created by `prepareLoad`). */
  table?: string;
  /** Pause between two writes and between two reads (default 200 ms). */
  intervalMs?: number;
  /** Role and database the load logs in as (default postgres / postgres). */
  user?: string;
  db?: string;
}

export interface LoadReport {
  writesOk: number;
  writesFailed: number;
  readsOk: number;
  readsFailed: number;
  /** Longest time between two acknowledged writes, or from the start to the first (ms). */
  longestWriteGapMs: number;
  /** Ids of the rows whose insert was acknowledged. */
  acked: number[];
  /** The first error text of a failed write and of a failed read, for a report. */
  firstWriteError?: string;
  firstReadError?: string;
}

export interface Load {
  stop(): Promise<LoadReport>;
}

export interface PsqlOptions {
  user?: string; // default postgres
  db?: string; // default postgres
  connectTimeoutS?: number; // default 2
  /** Send the SQL on stdin (a script: each statement its own transaction) instead of -c. */
  stdin?: boolean;
}

/** One psql call as a client on this machine: `-At` output, the password through the environment. */
export function psqlAt(
  host: string,
  port: number,
  password: string,
  sql: string,
  timeoutMs = 4000,
  o: PsqlOptions = {},
): Promise<{ ok: boolean; out: string; err: string }> {
  return new Promise((resolve) => {
    const args = ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-h', host, '-p', String(port), '-U', o.user ?? 'postgres'];
    const p = spawn('psql', [...args, '-d', o.db ?? 'postgres', ...(o.stdin ? [] : ['-c', sql])], {
      env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: String(o.connectTimeoutS ?? 2) },
    });
    if (o.stdin) p.stdin.end(sql.endsWith('\n') ? sql : `${sql}\n`);
    let out = '';
    let err = '';
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ ok: code === 0, out: out.trim(), err: err.trim() || (code === null ? 'timed out' : '') });
    });
  });
}

/** The load's login: its role and database when the target names them. */
const as = (t: LoadTarget): PsqlOptions => ({ ...(t.user ? { user: t.user } : {}), ...(t.db ? { db: t.db } : {}) });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Creates the load's table (empty) through the write port. */
export async function prepareLoad(t: LoadTarget): Promise<void> {
  const table = t.table ?? 'pgha_load';
  const r = await psqlAt(
    t.host,
    t.writePort ?? 5001,
    t.password,
    `drop table if exists ${table}; create table ${table}(id int primary key, at timestamptz default now())`,
    4000,
    as(t),
  );
  if (!r.ok) throw new Error(`cannot create ${table} through ${t.host}:${t.writePort ?? 5001}: ${r.err}`);
}

/** Starts writing and reading; `stop()` ends both loops and returns what happened. */
export function startLoad(t: LoadTarget): Load {
  const table = t.table ?? 'pgha_load';
  const interval = t.intervalMs ?? 200;
  const report: LoadReport = {
    writesOk: 0,
    writesFailed: 0,
    readsOk: 0,
    readsFailed: 0,
    longestWriteGapMs: 0,
    acked: [],
  };
  let running = true;
  const started = Date.now();
  let lastAck = started;
  const writes = (async () => {
    for (let id = 1; running; id++) {
      const r = await psqlAt(
        t.host,
        t.writePort ?? 5001,
        t.password,
        `insert into ${table}(id) values (${id})`,
        4000,
        as(t),
      );
      const now = Date.now();
      if (r.ok) {
        report.writesOk++;
        report.acked.push(id);
        report.longestWriteGapMs = Math.max(report.longestWriteGapMs, now - lastAck);
        lastAck = now;
      } else {
        report.writesFailed++;
        report.firstWriteError ??= r.err;
      }
      await sleep(interval);
    }
  })();
  const reads = (async () => {
    while (running) {
      const r = await psqlAt(t.host, t.readPort ?? 5010, t.password, 'select 1', 4000, as(t));
      if (r.ok && r.out === '1') report.readsOk++;
      else {
        report.readsFailed++;
        report.firstReadError ??= r.err;
      }
      await sleep(interval);
    }
  })();
  return {
    async stop() {
      running = false;
      await Promise.all([writes, reads]);
      // A load that ends in an outage counts the time up to its end.
      report.longestWriteGapMs = Math.max(report.longestWriteGapMs, Date.now() - lastAck - interval);
      return report;
    },
  };
}

/** Ids acknowledged by the load but missing from its table now (read through the write port). */
export async function lostWrites(t: LoadTarget, acked: number[]): Promise<number[]> {
  const r = await psqlAt(
    t.host,
    t.writePort ?? 5001,
    t.password,
    `select id from ${t.table ?? 'pgha_load'}`,
    10_000,
    as(t),
  );
  if (!r.ok) throw new Error(`cannot read back the load's rows: ${r.err}`);
  const present = new Set(r.out.split('\n').filter(Boolean).map(Number));
  return acked.filter((id) => !present.has(id));
}

export function describeLoad(r: LoadReport): string {
  return (
    `writes ${r.writesOk} ok / ${r.writesFailed} failed, reads ${r.readsOk} ok / ${r.readsFailed} failed, ` +
    `longest write gap ${(r.longestWriteGapMs / 1000).toFixed(1)} s`
  );
}
