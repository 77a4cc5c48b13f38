// The VMs pgha made for an inventory, recorded beside it (.pgha/<inventory>/state.json) from the moment a clone is
// asked for: destroy deletes only recorded VMs, and a VM whose creation stopped half way is known as unfinished.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { UserError } from '../../util/errors.js';
import { sidecarDir, sidecarPath, type Inventory } from '../../inventory/types.js';

export interface VmRecord {
  vmid: number;
  node: string;
  /** False from the clone request until the VM is configured and started. */
  finished: boolean;
}

type StateFile = { proxmox?: { vms?: Record<string, VmRecord> } } & Record<string, unknown>;

function read(inv: Pick<Inventory, 'file'>): StateFile {
  const file = sidecarPath(inv, 'state.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  try {
    const data = JSON.parse(text) as unknown;
    return data && typeof data === 'object' && !Array.isArray(data) ? (data as StateFile) : {};
  } catch {
    throw new UserError(
      `${file} is not valid JSON: pgha cannot tell which Proxmox VMs it made for this inventory`,
      `restore it from a backup, or remove it (destroy then deletes no VM; tagged VMs show as unfinished and pgha destroy --cleanup-unfinished removes them)`,
      { file },
    );
  }
}

/** The recorded VMs by host name. */
export function recordedVms(inv: Pick<Inventory, 'file'>): Record<string, VmRecord> {
  return { ...(read(inv).proxmox?.vms ?? {}) };
}

/** Record (or with undefined, forget) the VM of a host. Synchronous, so parallel creations never lose an update. */
export function recordVm(inv: Pick<Inventory, 'file'>, host: string, rec: VmRecord | undefined): void {
  const data = read(inv);
  const vms = { ...(data.proxmox?.vms ?? {}) };
  if (rec) vms[host] = rec;
  else delete vms[host];
  data.proxmox = { ...(data.proxmox ?? {}), vms };
  mkdirSync(sidecarDir(inv), { recursive: true });
  const file = sidecarPath(inv, 'state.json');
  writeFileSync(`${file}.tmp`, `${JSON.stringify(data, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/** The identity written into the description of each VM pgha clones for this inventory. */
export function identity(inv: Pick<Inventory, 'file' | 'cluster'>, host: string): string {
  return `pgha: host ${host} of cluster ${inv.cluster}, inventory ${inv.file}`;
}
