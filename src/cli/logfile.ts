// --log-file: every event of a run as one JSON object per line, appended. Every string passes through mask(),
// value by value (before JSON escaping), so no secret reaches the file.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import { mask } from '../engine/mask.js';
import type { EventSink } from './output.js';

export function maskedLine(event: Record<string, unknown>): string {
  return (
    JSON.stringify({ time: new Date().toISOString(), ...event }, (_k, v: unknown) =>
      typeof v === 'string' ? mask(v) : v,
    ) + '\n'
  );
}

/** Opens (creates) the log file at once, so a path that cannot be written is bad input before anything runs. */
export function openEventLog(file: string): EventSink {
  const path = resolve(file);
  try {
    mkdirSync(dirname(path), { recursive: true });
    appendFileSync(path, '');
  } catch (e) {
    throw new UserError(
      `cannot write the log file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      'give --log-file a path in a folder you can write to',
    );
  }
  // Written synchronously: the last lines are there even when the run ends with process.exit.
  return { write: (event) => appendFileSync(path, maskedLine(event)) };
}
