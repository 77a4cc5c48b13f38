// Cluster secrets the components need. The engine generates each one once (random, letters and digits only,
// of the given length), keeps it beside the inventory, and hands it to every step as ctx.secrets[key].
import type { StepContext, StepGroupContext } from '../engine/types.js';
import { UserError } from '../engine/errors.js';

export interface SecretSpec {
  key: string;
  /** Length to generate (characters from [A-Za-z0-9]). */
  length: number;
  description: string;
}

export const SECRET_KEYS: readonly SecretSpec[] = [
  { key: 'postgres_superuser_password', length: 32, description: 'PostgreSQL superuser "postgres" (Patroni, verify)' },
  { key: 'replication_password', length: 32, description: 'PostgreSQL replication user (streaming, pg_basebackup)' },
  { key: 'rewind_password', length: 32, description: 'PostgreSQL pg_rewind user' },
  { key: 'patroni_api_password', length: 32, description: 'Basic auth of Patroni REST API unsafe methods (PATCH/POST)' },
  // keepalived uses only the first 8 characters of auth_pass (and warns about longer ones).
  { key: 'vrrp_password', length: 8, description: 'keepalived VRRP auth_pass (max 8 characters)' },
];

export const SECRET_NAMES: readonly string[] = SECRET_KEYS.map((s) => s.key);

/** The secret or a UserError naming it (a missing secret is an environment problem, not a remote one). */
export function secret(ctx: Pick<StepContext | StepGroupContext, 'secrets'>, key: string): string {
  const v = ctx.secrets[key];
  if (typeof v !== 'string' || v === '') {
    throw new UserError(`secret ${key} is missing`, 'run pgha up once to generate the secrets, or set it in the environment');
  }
  if (key === 'vrrp_password' && v.length > 8) {
    throw new UserError(`secret ${key} is longer than 8 characters`, 'keepalived only uses the first 8 characters of auth_pass');
  }
  return v;
}
