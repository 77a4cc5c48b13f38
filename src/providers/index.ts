import type { Inventory } from '../inventory/types.js';
import type { Provider } from './types.js';

/** The inventory's provider; only its module is loaded (no Proxmox client for a lab or static inventory). */
export async function providerFor(inv: Inventory): Promise<Provider> {
  switch (inv.provider.type) {
    case 'lab':
      return (await import('./lab/index.js')).labProvider;
    case 'proxmox':
      return (await import('./proxmox/index.js')).proxmoxProvider;
    default:
      return (await import('./static/index.js')).staticProvider;
  }
}
