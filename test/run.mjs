#!/usr/bin/env node
// Runs every test (unit and end-to-end on the local lab) and ends with one plain line: "N passed, N failed".
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const report = join(mkdtempSync(join(tmpdir(), 'pgha-test-')), 'vitest.json');
const args = [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
];
const r = spawnSync('npx', args, {
  stdio: 'inherit',
  env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' },
});
let passed = 0;
let failed;
if (existsSync(report)) {
  const j = JSON.parse(readFileSync(report, 'utf8'));
  passed = j.numPassedTests ?? 0;
  failed =
    (j.numFailedTests ?? 0) +
    (j.numRuntimeErrorTestSuites ?? 0) +
    (j.numFailedTestSuites && !j.numFailedTests ? j.numFailedTestSuites : 0);
} else {
  failed = 1;
}
if (r.status !== 0 && failed === 0) failed = 1; // the runner itself failed (a crash, a failed suite setup)
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
