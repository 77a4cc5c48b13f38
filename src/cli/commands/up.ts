// pgha up: create missing hosts, converge the cluster, verify it.
import type { GlobalOptions } from '../session.js';
import type { Out } from '../output.js';
import { runPlaybook } from '../playbook-run.js';

export function up(g: GlobalOptions, out: Out, o: { check?: boolean; diff?: boolean; prune?: boolean; yes?: boolean }) {
  return runPlaybook(
    g,
    out,
    'cluster',
    { check: Boolean(o.check), diff: Boolean(o.diff), prune: Boolean(o.prune), yes: Boolean(o.yes) },
    'up',
  );
}
