// pgha verify: the verify playbook (write, read back from a replica, reach several members through the VIP).
import type { GlobalOptions } from '../session.js';
import type { Out } from '../output.js';
import { runPlaybook } from '../playbook-run.js';

export function verify(g: GlobalOptions, out: Out) {
  return runPlaybook(g, out, 'verify', { check: false, diff: false }, 'verify');
}
