// pgha destroy: remove the hosts this inventory created.
import type { GlobalOptions } from '../session.js';
import type { Out } from '../output.js';
import { providerAction } from '../provider-run.js';

export function destroy(
  g: GlobalOptions,
  out: Out,
  o: { check?: boolean; cleanupUnfinished?: boolean; yes?: boolean },
) {
  return providerAction(g, out, 'destroy', Boolean(o.check), undefined, {
    cleanupUnfinished: Boolean(o.cleanupUnfinished),
    yes: Boolean(o.yes),
  });
}
