// pgha rebuild: destroy the hosts (lab machines, Proxmox VMs) and bring the cluster up again on new ones.
import type { GlobalOptions } from '../session.js';
import type { Out } from '../output.js';
import { providerAction } from '../provider-run.js';
import { runPlaybook } from '../playbook-run.js';

export async function rebuild(g: GlobalOptions, out: Out, o: { yes?: boolean }) {
  const destroyed = await providerAction(g, out, 'destroy', false, undefined, {
    yes: Boolean(o.yes),
    command: 'pgha rebuild',
    refuseStatic: 'pgha rebuild is for hosts pgha makes (provider lab or proxmox); on existing hosts use pgha up',
  });
  const built = await runPlaybook(g, out, 'cluster', { check: false, diff: false }, 'rebuild');
  return { ...built, destroyed: destroyed.changes };
}
