// pgha lab up|down: start or stop the machines of a lab inventory only.
import type { GlobalOptions } from '../session.js';
import type { Out } from '../output.js';
import { providerAction } from '../provider-run.js';

export function lab(g: GlobalOptions, out: Out, action: 'up' | 'down', o: { yes?: boolean } = {}) {
  return providerAction(g, out, action, false, 'lab', { yes: Boolean(o.yes) });
}
