// keepalived's inventory variables and its secret (it runs on the haproxy hosts and declares no role).
// Read them with keepalivedSettings(inv, host).
import type { Host, Inventory } from '../../inventory/types.js';
import type { StepContext } from '../../engine/types.js';
import type { SecretSpec } from '../../engine/secrets.js';
import { UserError } from '../../util/errors.js';
import { defineSettings } from '../settings.js';
import { secret } from '../secrets.js';

export const KEEPALIVED_SECRETS: SecretSpec[] = [
  // keepalived uses only the first 8 characters of auth_pass (and warns about longer ones).
  { key: 'vrrp_password', length: 8, description: 'keepalived VRRP auth_pass (max 8 characters)' },
];

export const keepalivedVars = defineSettings({
  kaInterface: {
    name: 'keepalived_interface',
    type: 'string',
    default: '',
    pattern: '^[A-Za-z0-9_.@-]*$',
    level: 'host',
    doc: 'Interface for VRRP and the VIP (default: the one carrying the host address, read from the host).',
  },
  routerId: {
    name: 'keepalived_virtual_router_id',
    type: 'int',
    default: 0,
    min: 0,
    max: 255,
    level: 'cluster',
    doc: 'VRRP virtual router id 1-255, unique per network; 0 (default) derives it from the cluster name.',
  },
  unicast: {
    name: 'keepalived_unicast',
    type: 'bool',
    default: true,
    level: 'cluster',
    doc: 'VRRP over unicast between the haproxy hosts (default true: adverts go only to the other balancers); false: multicast.',
  },
});

/** A stable VRRP router id 1..255 from the cluster name (FNV-1a). */
export function routerIdFor(cluster: string): number {
  let h = 0x811c9dc5;
  for (const ch of cluster) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return (h % 255) + 1;
}

/** keepalived's settings for one host; router id 0 means derived from the cluster name. */
export function keepalivedSettings(inv: Pick<Inventory, 'file' | 'cluster'>, host: Host) {
  const s = keepalivedVars.read(inv, host);
  return { ...s, routerId: s.routerId === 0 ? routerIdFor(inv.cluster) : s.routerId };
}

/** The VRRP password; keepalived would silently cut a longer one. */
export function vrrpPassword(ctx: Pick<StepContext, 'secrets'>): string {
  const v = secret(ctx, 'vrrp_password');
  if (v.length > 8)
    throw new UserError(
      'secret vrrp_password is longer than 8 characters',
      'keepalived only uses the first 8 characters of auth_pass',
    );
  return v;
}
