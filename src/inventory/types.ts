// The normalized inventory: what every other part reads. The YAML form and its schema live beside this file
// (schema.ts documents every YAML field; load.ts reads and checks a file).

/** A role name; the components declare the roles (etcd, postgres, haproxy) and the loader gets them in a Catalog. */
export type Role = string;

export interface SshSettings {
  user: string; // default root
  port: number; // default 22
  keyFile?: string; // absolute path; the lab provider sets its generated key
  become: boolean; // run remote scripts through `sudo -n` when the user is not root
  /** Jump host: an inventory host name, or [user@]host[:port] of an external bastion; 'none' to go direct. Unset: ssh config's ProxyJump, else direct. */
  jump?: string;
  /** Address to connect to when ssh config gives a HostName (the cluster still uses `address`). */
  hostName?: string;
  /** The settings the inventory wrote (host, group or inventory-wide); the others may come from ssh config. Unset: all of them. */
  explicit?: SshField[];
}

export type SshField = 'user' | 'port' | 'keyFile' | 'become' | 'jump';

export interface ProxmoxApiSettings {
  host: string;
  port: number; // default 8006
  node: string;
  tokenId: string; // user@realm!name
  tokenSecretEnv: string; // name of the environment variable holding the secret (default PGHA_PVE_TOKEN_SECRET)
  verifyTls: boolean; // default true
  caFile?: string; // absolute path to a PEM file to trust
}

/** A Proxmox node pgha may place VMs on, with what differs there. */
export interface ProxmoxNode {
  name: string;
  template?: number | string; // vmid or name of the template to clone for this node (default: ProxmoxSettings.template)
  storage?: string; // default: ProxmoxSettings.storage
  bridge?: string; // default: ProxmoxSettings.bridge
}

export interface ProxmoxSettings {
  api: ProxmoxApiSettings;
  nodes: ProxmoxNode[]; // nodes VMs may go to (default: api.node alone)
  spread: boolean; // members of one role on different nodes (default true)
  ha: boolean; // register the VMs as Proxmox HA resources (default false)
  template: number; // vmid of the cloud-init template to clone
  storage: string;
  bridge: string;
  nameserver?: string;
  tag: string; // tag marking VMs this inventory created (default: pgha-<cluster>)
  maxParallelClones: number; // default 2
  sshTimeoutSec: number; // default 300
  defaults: {
    cores: number;
    memory: number;
    diskGb: number;
    user: string;
    sshPublicKey?: string;
    ip?: 'dhcp' | 'static';
    gateway?: string;
  };
}

export interface ProxmoxHostSettings {
  vmid?: number;
  node?: string; // pinned node
  cores: number;
  memory: number; // MiB
  diskGb: number;
  ip: 'dhcp' | 'static';
  gateway?: string;
  user: string;
  sshPublicKey?: string; // key text
}

export interface LabSettings {
  bridge: string; // bridge name on the control machine (<= 15 chars)
  bridgeAddress: string; // the control machine's address on the lab subnet (gateway + package cache)
  cachePort: number; // apt-cacher-ng port on the bridge address (default 3142)
  stateDir: string; // where the lab keeps disks, pids and logs (default /var/lib/pgha/labs/<cluster>)
}

export interface ProviderSettings {
  type: 'lab' | 'static' | 'proxmox';
  lab?: LabSettings; // set when type = lab
  proxmox?: ProxmoxSettings; // set when type = proxmox
}

export interface Host {
  name: string;
  address: string;
  roles: Role[]; // in the catalog's order
  groups: string[]; // user groups as listed on the host (their vars apply in this order); roles are in `roles`
  ssh: SshSettings;
  vars: Record<string, unknown>; // merged: cluster vars < group vars (in group order) < host vars
  proxmox?: ProxmoxHostSettings;
}

export interface Inventory {
  file: string; // absolute path of the YAML file
  dir: string; // its directory (secrets, known_hosts, lock and the lab key live beside it)
  cluster: string;
  subnet: string; // CIDR, e.g. 10.77.0.0/24
  prefix: number; // prefix length of subnet
  vip?: string; // keepalived virtual IP (required when a host has the haproxy role)
  provider: ProviderSettings;
  hosts: Host[];
  groups: Record<string, string[]>; // group -> host names (includes role groups etcd/postgres/haproxy and `all`)
  vars: Record<string, unknown>; // cluster-level vars
  warnings: string[];
  /** Host names chosen by --limit (in inventory order); undefined when no limit was given. */
  limit?: string[];
}

/** Files pgha keeps beside an inventory: `<dir>/.pgha/<inventory name>/<file>` (gitignored). */
export type SidecarFile =
  'secrets.yml' | 'known_hosts' | 'lock' | 'id_ed25519' | 'id_ed25519.pub' | 'state.json' | 'removed.json';

export function sidecarDir(inv: Pick<Inventory, 'file'>): string {
  const slash = inv.file.lastIndexOf('/');
  const dir = inv.file.slice(0, slash);
  const name = inv.file.slice(slash + 1).replace(/\.ya?ml$/, '');
  return `${dir}/.pgha/${name}`;
}

export function sidecarPath(inv: Pick<Inventory, 'file'>, file: SidecarFile): string {
  return `${sidecarDir(inv)}/${file}`;
}

/** The roles the inventory's hosts carry, in the order they first appear (hosts list their roles in catalog order). */
export function rolesOf(inv: Pick<Inventory, 'hosts'>): string[] {
  return [...new Set(inv.hosts.flatMap((h) => h.roles))];
}
