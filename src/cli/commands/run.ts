// pgha run PLAYBOOK: a playbook by path or by name from playbooks/.
import type { GlobalOptions } from '../session.js';
import type { Out } from '../output.js';
import { runPlaybook } from '../playbook-run.js';

export function run(g: GlobalOptions, out: Out, playbook: string, o: { check?: boolean; diff?: boolean }) {
  return runPlaybook(g, out, playbook, { check: Boolean(o.check), diff: Boolean(o.diff) }, `run ${playbook}`);
}
