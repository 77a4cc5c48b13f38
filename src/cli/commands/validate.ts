// pgha validate: load an inventory and its playbooks and check them, contacting nothing (no SSH, no provider
// API, no secrets written, no lock). Errors are the ones every other command reports, with file, line and field.
import { catalog, components } from '../../components/index.js';
import { findPlaybook, loadPlaybook, resolvePlays } from '../../playbook/load.js';
import { loadInventory, resolveLimit } from '../../inventory/load.js';
import type { GlobalOptions } from '../session.js';
import type { Out } from '../output.js';

export const DEFAULT_PLAYBOOKS = ['cluster', 'verify', 'demo'];

export function validate(g: GlobalOptions, out: Out, o: { playbook?: string[] }) {
  const inv = loadInventory(g.inventory, catalog);
  const ROLES = catalog.roles.map((r) => r.name);
  const hosts = g.limit ? resolveLimit(inv, g.limit) : inv.hosts;
  const playbooks = (o.playbook?.length ? o.playbook : DEFAULT_PLAYBOOKS).map((name) => {
    const pb = loadPlaybook(findPlaybook(name), components);
    const steps = resolvePlays(pb, inv, components, hosts).filter((r) => r.hosts.length);
    return { name: pb.name, file: pb.file, steps: steps.length };
  });
  const roles = Object.fromEntries(ROLES.map((r) => [r, inv.hosts.filter((h) => h.roles.includes(r)).length]));
  for (const w of inv.warnings) out.info(`warning: ${w}`);
  const roleText =
    ROLES.filter((r) => roles[r])
      .map((r) => `${roles[r]} ${r}`)
      .join(', ') || 'no roles';
  out.info(
    `valid: ${inv.file}: cluster ${inv.cluster}, provider ${inv.provider.type}, ${inv.hosts.length} host${inv.hosts.length === 1 ? '' : 's'} (${roleText})` +
      `${inv.vip ? `, VIP ${inv.vip}` : ''}; playbooks ${playbooks.map((p) => `${p.name} (${p.steps} step${p.steps === 1 ? '' : 's'})`).join(', ')}`,
  );
  return {
    ok: true,
    inventory: inv.file,
    cluster: inv.cluster,
    provider: inv.provider.type,
    hosts: inv.hosts.length,
    roles,
    selected: hosts.map((h) => h.name),
    warnings: inv.warnings,
    playbooks,
  };
}
