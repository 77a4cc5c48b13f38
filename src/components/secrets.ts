// Reading a cluster secret in a step. The components declare their secrets (key, length, description) in their
// folders; the engine generates each one once (random, letters and digits only, of the given length), keeps it
// beside the inventory, and hands it to every step as ctx.secrets[key].
import type { StepContext, StepGroupContext } from '../engine/types.js';
import { UserError } from '../util/errors.js';

/** The secret or a UserError naming it (a missing secret is an environment problem, not a remote one). */
export function secret(ctx: Pick<StepContext | StepGroupContext, 'secrets'>, key: string): string {
  const v = ctx.secrets[key];
  if (typeof v !== 'string' || v === '') {
    throw new UserError(
      `secret ${key} is missing`,
      'run pgha up once to generate the secrets, or set it in the environment',
    );
  }
  return v;
}
