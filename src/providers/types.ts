// A provider gets hosts: it makes sure every inventory host exists and answers on SSH.
import type { Inventory } from '../inventory/types.js';

export interface ProviderContext {
  /** Plan only: report what would be created/changed/deleted, touch nothing. */
  check: boolean;
  log(line: string): void;
  /** destroy: also delete VMs that carry the inventory's tag but were never finished (or not recorded). Proxmox only. */
  cleanupUnfinished?: boolean;
}

export interface ProviderChange {
  host: string;
  action: 'create' | 'start' | 'change' | 'delete' | 'drift';
  summary: string;
}

export interface HostState {
  host: string;
  state: 'running' | 'stopped' | 'absent' | 'unknown';
  detail?: string;
}

export interface Provider {
  readonly name: 'lab' | 'static' | 'proxmox';
  /** Make the hosts exist and answer on SSH (idempotent). In check mode only report. */
  up(inv: Inventory, ctx: ProviderContext): Promise<ProviderChange[]>;
  /** Stop the hosts, keep their disks (idempotent). */
  down(inv: Inventory, ctx: ProviderContext): Promise<ProviderChange[]>;
  /** Remove the hosts and their disks (idempotent; only what this inventory created). */
  destroy(inv: Inventory, ctx: ProviderContext): Promise<ProviderChange[]>;
  status(inv: Inventory): Promise<HostState[]>;
}
