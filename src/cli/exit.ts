// Leaving the process. process.exit() does not wait for output still queued for stdout or stderr: when they are
// a pipe or a socket to a parent process (a test, a CI runner, `pgha ... | less`), the end of a long plan would be
// cut off while the exit code still says success. Exit once both streams took everything written before.

/** Exit with `code` once stdout and stderr have taken what was written (at most `limitMs` later). */
export function exitAfterFlush(code: number, limitMs = 10_000): void {
  process.exitCode = code;
  let left = 2;
  const done = () => {
    if (--left === 0) process.exit(code);
  };
  for (const s of [process.stdout, process.stderr]) s.write('', done);
  // A reader that never reads must not keep pgha running for ever.
  setTimeout(() => process.exit(code), limitMs).unref();
}
