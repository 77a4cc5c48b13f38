import type { Inventory } from '../inventory/types.js';
import type { Provider } from './types.js';
import { staticProvider } from './static/index.js';

export async function providerFor(inv: Inventory): Promise<Provider> {
  switch (inv.provider.type) {
    case 'lab':
      return (await import('./lab/index.js')).labProvider;
    case 'proxmox':
      return (await import('./proxmox/index.js')).proxmoxProvider;
    default:
      return staticProvider;
  }
}
