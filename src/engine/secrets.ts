// Cluster secrets: generated once, kept in a 0600 file beside the inventory, or taken from the environment
// (PGHA_SECRET_<KEY>, upper case). Every value is registered with the masker as soon as it is known.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse, stringify } from 'yaml';
import { UserError } from './errors.js';
import { addSecret } from './mask.js';

export interface SecretSpec {
  key: string;
  length: number;
  description?: string;
}

/** Shorter values are refused: they would be guessed, and masking them would blank out ordinary words. */
const MIN_LENGTH = 4;

const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

export function generateSecret(length: number): string {
  const bytes = randomBytes(length * 2);
  let s = '';
  for (let i = 0; s.length < length; i++) {
    const b = bytes[i % bytes.length];
    if (b < 256 - (256 % ALPHABET.length)) s += ALPHABET[b % ALPHABET.length];
    if (i > length * 8) break;
  }
  return s;
}

export function envName(key: string): string {
  return `PGHA_SECRET_${key.toUpperCase()}`;
}

/** Load the secrets file, fill in what is missing (unless check), write it back atomically with mode 0600. */
export function loadSecrets(file: string, specs: SecretSpec[], opts: { check: boolean; env?: NodeJS.ProcessEnv }): Record<string, string> {
  const env = opts.env ?? process.env;
  let stored: Record<string, string> = {};
  if (existsSync(file)) {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) chmodSync(file, 0o600);
    try {
      stored = (parse(readFileSync(file, 'utf8')) as Record<string, string>) ?? {};
    } catch (e) {
      throw new UserError(`secrets file ${file} is not valid YAML: ${(e as Error).message}`, 'fix or remove the file (removing it generates new passwords, which a running cluster will not accept)', { file });
    }
  }
  const out: Record<string, string> = {};
  let changed = false;
  for (const s of specs) {
    const fromEnv = env[envName(s.key)];
    if (fromEnv) out[s.key] = fromEnv;
    else if (typeof stored[s.key] === 'string' && stored[s.key]) out[s.key] = stored[s.key];
    else {
      out[s.key] = generateSecret(s.length);
      stored[s.key] = out[s.key];
      changed = true;
    }
    if (out[s.key].length < MIN_LENGTH) {
      throw new UserError(`secret ${s.key} (${fromEnv ? envName(s.key) : file}) is shorter than ${MIN_LENGTH} characters`,
        `use a longer value, or remove it from ${fromEnv ? 'the environment' : 'the file'} to have one generated`, fromEnv ? undefined : { file });
    }
    addSecret(out[s.key]);
  }
  if (changed && !opts.check) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, '# pgha cluster secrets: keep this file private (mode 0600). Override with PGHA_SECRET_<KEY>.\n' + stringify(stored), { mode: 0o600 });
    renameSync(tmp, file);
  }
  return out;
}
