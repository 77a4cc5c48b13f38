// The load generator against a fake psql on PATH: writes fail while an "outage" file exists, reads never.
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lostWrites, startLoad } from '../../bench/load.js';

const dir = mkdtempSync(join(tmpdir(), 'pgha-load-'));
const outage = join(dir, 'outage');
const rows = join(dir, 'rows');
// Answers like psql -At: an insert appends its id to `rows` (or fails during the outage), a select prints.
writeFileSync(
  join(dir, 'psql'),
  `#!/bin/sh
for a; do sql="$a"; done
case "$sql" in
  insert*) if [ -e ${outage} ]; then echo "server closed the connection" >&2; exit 2; fi
           echo "$sql" | sed 's/.*values (\\([0-9]*\\)).*/\\1/' >> ${rows} ;;
  "select id"*) cat ${rows} | grep -v '^7$' ;;
  *) echo 1 ;;
esac
`,
);
chmodSync(join(dir, 'psql'), 0o755);
const path = process.env.PATH;
process.env.PATH = `${dir}:${path}`;
afterEach(() => rmSync(outage, { force: true }));

describe('startLoad', () => {
  it('counts failed writes, the longest gap without an acknowledged write, and lost rows', async () => {
    writeFileSync(rows, '');
    const t = { host: '127.0.0.1', password: 'x', intervalMs: 20 };
    const load = startLoad(t);
    // Waits on what the fake recorded, not on the clock: a busy machine spawns psql slowly.
    const acked = () => readFileSync(rows, 'utf8').split('\n').filter(Boolean).length;
    const until = async (ok: () => boolean) => {
      for (const end = Date.now() + 20_000; !ok();) {
        if (Date.now() > end) throw new Error('the load made no progress');
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await until(() => acked() >= 8);
    const seen = Date.now(); // the last write before the outage was acknowledged at or after this
    const before = acked();
    writeFileSync(outage, '');
    await new Promise((r) => setTimeout(r, 700));
    rmSync(outage);
    await until(() => acked() > before);
    const back = Date.now(); // a write after the outage was acknowledged by now
    const r = await load.stop();
    expect(r.writesFailed).toBeGreaterThan(3);
    expect(r.writesOk).toBeGreaterThan(3);
    expect(r.readsFailed).toBe(0);
    expect(r.longestWriteGapMs).toBeGreaterThanOrEqual(650);
    expect(r.longestWriteGapMs).toBeLessThanOrEqual(back - seen + 50);
    expect(r.firstWriteError).toMatch(/server closed/);
    // The fake "loses" row 7: it is reported, the others are not.
    expect(await lostWrites(t, r.acked)).toEqual(r.acked.includes(7) ? [7] : []);
    expect(r.acked).toContain(7);
  });
});
