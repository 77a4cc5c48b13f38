// Steps with typed facts. A step's facts are declared with their parsers and reach resources() with the types
// those parsers return; the runner and the registries hold every step as a plain Step.
import type { Step } from './types.js';

/** A step whose fact types are inferred from its `facts` specs (or given as F). */
export function defineStep<F extends object>(step: Step<F>): Step {
  return step;
}
