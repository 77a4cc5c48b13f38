// Cluster secrets: generated once, or taken once from the environment (PGHA_SECRET_<KEY>, upper case), and kept
// in a 0600 file beside the inventory. Every value is registered with the masker as soon as it is known.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse, stringify } from 'yaml';
import { UserError } from '../util/errors.js';
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

/**
 * Load the secrets file, fill in what is missing (unless check), write it back atomically with mode 0600.
 * The file is the one place a secret lives: a value from PGHA_SECRET_<KEY> is saved into it (a later run without
 * the variable then uses the same value), and refused when the file already holds another one (the hosts use
 * that one; changing a password is not done by setting a variable). A file that others may read is refused.
 */
export function loadSecrets(
  file: string,
  specs: SecretSpec[],
  opts: { check: boolean; env?: NodeJS.ProcessEnv },
): Record<string, string> {
  const env = opts.env ?? process.env;
  let stored: Record<string, string> = {};
  if (existsSync(file)) {
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) {
      throw new UserError(
        `secrets file ${file} may be read by others (mode 0${mode.toString(8)})`,
        `make it private (chmod 600 ${file}), and change the passwords if anyone else may have read it`,
        { file },
      );
    }
    try {
      stored = (parse(readFileSync(file, 'utf8')) as Record<string, string>) ?? {};
    } catch (e) {
      throw new UserError(
        `secrets file ${file} is not valid YAML: ${(e as Error).message}`,
        'fix or remove the file (removing it generates new passwords, which a running cluster will not accept)',
        { file },
      );
    }
  }
  const out: Record<string, string> = {};
  let changed = false;
  for (const s of specs) {
    const fromEnv = env[envName(s.key)];
    const have = typeof stored[s.key] === 'string' && stored[s.key] ? stored[s.key] : undefined;
    if (fromEnv && have !== undefined && fromEnv !== have) {
      throw new UserError(
        `${envName(s.key)} differs from ${s.key} in ${file}, the value the cluster uses`,
        `unset ${envName(s.key)} to keep the cluster's value; a value given in the environment is only taken when the file has none (it is then saved there)`,
        { file, field: s.key },
      );
    }
    if (fromEnv) out[s.key] = fromEnv;
    else if (have !== undefined) out[s.key] = have;
    else out[s.key] = generateSecret(s.length);
    if (have === undefined) {
      stored[s.key] = out[s.key];
      changed = true;
    }
    if (out[s.key].length < MIN_LENGTH) {
      throw new UserError(
        `secret ${s.key} (${fromEnv ? envName(s.key) : file}) is shorter than ${MIN_LENGTH} characters`,
        `use a longer value, or remove it from ${fromEnv ? 'the environment' : 'the file'} to have one generated`,
        fromEnv ? undefined : { file },
      );
    }
    addSecret(out[s.key]);
  }
  if (changed && !opts.check) writeSecretsFile(file, stored);
  return out;
}

/** The whole file, written beside itself (0600) and renamed over it: a reader sees the old or the new one. */
function writeSecretsFile(file: string, values: Record<string, string>): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(
    tmp,
    '# pgha cluster secrets: keep this file private (mode 0600). PGHA_SECRET_<KEY> gives a value the file does not hold yet.\n' +
      stringify(values),
    { mode: 0o600 },
  );
  renameSync(tmp, file);
}

/**
 * New values for `keys` (generated at each spec's length), saved into the secrets file at once with the others
 * kept; returns the new values (registered with the masker before the file is written).
 */
export function replaceSecrets(
  file: string,
  specs: readonly SecretSpec[],
  keys: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  // Checks the file (private, valid) and that every secret is there; keys beyond the specs are kept as they are.
  loadSecrets(file, [...specs], { check: true, env });
  const stored = existsSync(file) ? ((parse(readFileSync(file, 'utf8')) as Record<string, string>) ?? {}) : {};
  const fresh: Record<string, string> = {};
  for (const k of keys) {
    const spec = specs.find((s) => s.key === k);
    if (!spec) throw new UserError(`no secret ${k}`, `name one of: ${specs.map((s) => s.key).join(', ')}`);
    if (env[envName(k)])
      throw new UserError(
        `${envName(k)} is set: after the change it would differ from the file`,
        `unset ${envName(k)} before changing ${k}`,
      );
    fresh[k] = generateSecret(spec.length);
    addSecret(fresh[k]);
  }
  writeSecretsFile(file, { ...stored, ...fresh });
  return fresh;
}
