// Which VMs are this inventory's: found by name, marked by the inventory's tag, and recorded when pgha cloned
// them. Destroy deletes only what these say is its own.
import type { Inventory, ProxmoxSettings } from '../../inventory/types.js';
import { UserError } from '../../util/errors.js';
import type { PveClient } from './client.js';
import { identity, recordedVms } from './state.js';
import { tagList } from './spec.js';
import { getConfig, listVms, type VmEntry } from './vm.js';

export function byName(inv: Inventory, vms: VmEntry[]): Map<string, VmEntry> {
  const map = new Map<string, VmEntry>();
  for (const vm of vms) {
    if (vm.template || !vm.name) continue;
    const prev = map.get(vm.name);
    if (prev && inv.hosts.some((h) => h.name === vm.name)) {
      throw new UserError(
        `two Proxmox VMs are named ${vm.name} (${prev.vmid} on ${prev.node}, ${vm.vmid} on ${vm.node}): pgha cannot tell which is the host`,
        'rename or remove one of them in Proxmox',
      );
    }
    map.set(vm.name, vm);
  }
  return map;
}

/** The VM carries the inventory's tag. */
export const isOurs = (vm: VmEntry, s: ProxmoxSettings) => tagList(vm.tags).includes(s.tag.toLowerCase());

/** The inventory's VMs that carry the inventory tag; untagged VMs with the same names are reported and left alone. */
export async function ours(
  c: PveClient,
  s: ProxmoxSettings,
  inv: Inventory,
  log: (l: string) => void,
): Promise<{ host: string; vm: VmEntry }[]> {
  const named = byName(inv, await listVms(c));
  const out: { host: string; vm: VmEntry }[] = [];
  for (const h of inv.hosts) {
    const vm = named.get(h.name);
    if (!vm) continue;
    if (isOurs(vm, s)) out.push({ host: h.name, vm });
    else
      log(
        `${h.name}: VM ${vm.vmid} on ${vm.node} has this name but not the tag ${s.tag}: not created by this inventory, left alone`,
      );
  }
  return out;
}

/** What destroy may delete: recorded, finished and tagged VMs; and the unfinished ones (tagged or recorded, never finished). */
export async function destroyable(c: PveClient, s: ProxmoxSettings, inv: Inventory, log: (l: string) => void) {
  const records = recordedVms(inv);
  const vms = await listVms(c);
  const byId = new Map(vms.map((v) => [v.vmid, v]));
  const done: { host: string; vm: VmEntry }[] = [];
  const unfinished: { host: string; vm: VmEntry; why: string }[] = [];
  const gone: string[] = [];
  for (const [host, rec] of Object.entries(records)) {
    const vm = byId.get(rec.vmid);
    if (!vm) {
      gone.push(host);
      continue;
    }
    if (vm.template) {
      log(`${host}: VM ${vm.vmid} recorded for it is now a template: left alone`);
    } else if (rec.finished && isOurs(vm, s)) {
      done.push({ host, vm });
    } else if (!rec.finished) {
      const cfg = isOurs(vm, s) ? undefined : await getConfig(c, vm.node, vm.vmid).catch(() => undefined);
      if (isOurs(vm, s) || cfg?.['description'] === identity(inv, host))
        unfinished.push({ host, vm, why: 'its creation stopped before it was configured and started' });
      else
        log(
          `${host}: VM ${vm.vmid} on ${vm.node} was recorded but is not the VM pgha cloned (no tag ${s.tag}, other description): left alone`,
        );
    } else {
      log(`${host}: VM ${vm.vmid} on ${vm.node} does not carry the tag ${s.tag} (any more): left alone`);
    }
  }
  const known = new Set(Object.values(records).map((r) => r.vmid));
  for (const vm of vms) {
    if (vm.template || known.has(vm.vmid) || !isOurs(vm, s)) continue;
    unfinished.push({
      host: vm.name ?? `vm${vm.vmid}`,
      vm,
      why: `it carries the tag ${s.tag} but pgha has no record of making it for this inventory`,
    });
  }
  for (const h of inv.hosts) {
    const vm = vms.find((v) => v.name === h.name && !v.template);
    if (vm && !isOurs(vm, s) && !known.has(vm.vmid))
      log(
        `${h.name}: VM ${vm.vmid} on ${vm.node} has this name but not the tag ${s.tag}: not created by this inventory, left alone`,
      );
  }
  return { done, unfinished, gone };
}
