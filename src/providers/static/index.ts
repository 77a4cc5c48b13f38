// Existing hosts (bare metal or VMs made elsewhere): nothing to create; pgha only checks that SSH answers.
import { tcpOpen } from '../../util/net.js';
import type { Inventory } from '../../inventory/types.js';
import type { HostState, Provider, ProviderChange } from '../types.js';
import { UserError } from '../../util/errors.js';

export const staticProvider: Provider = {
  name: 'static',
  async up(): Promise<ProviderChange[]> {
    return []; // the SSH connection step reports unreachable hosts with what to check
  },
  async down(): Promise<ProviderChange[]> {
    throw new UserError(
      'static hosts are not stopped by pgha',
      'stop them the way they are managed (they are existing machines)',
    );
  },
  async destroy(inv: Inventory): Promise<ProviderChange[]> {
    throw new UserError(
      `the inventory ${inv.file} uses provider static: pgha does not remove existing hosts`,
      'to take the cluster off them, stop its services yourself; pgha destroy removes only lab hosts and Proxmox VMs it created',
    );
  },
  async status(inv: Inventory): Promise<HostState[]> {
    return Promise.all(
      inv.hosts.map(
        async (h) =>
          ({
            host: h.name,
            state: (await tcpOpen(h.address, h.ssh.port, 3000)) ? 'running' : 'unknown',
            detail: `ssh ${h.address}:${h.ssh.port}`,
          }) as HostState,
      ),
    );
  },
};
