// JSON Schema of inventory files (inventory/*.yml). Every field is documented here; keys are snake_case.
// The variables and the roles come from the components' declarations (a Catalog).
import { knownVars, varsDescription } from './vars.js';
import { roleNames, type Catalog } from './catalog.js';

export const HOSTNAME_PATTERN = '^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$';
export const CLUSTER_PATTERN = '^[a-z]([a-z0-9-]{0,30}[a-z0-9])?$';
/** ssh.jump: none, or [user@]host[:port] (host: a name or an IPv4 address). */
export const JUMP_PATTERN = '^(none|([a-z_][a-z0-9_.-]*@)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?)$';
const IPV4 = { type: 'string', format: 'ipv4' };
const nullable = (s: Record<string, unknown>) => ({ ...s, type: [s.type as string, 'null'] });

const vars = (c: Catalog, where: string) => ({
  type: ['object', 'null'],
  properties: knownVars(c),
  additionalProperties: true,
  description: `${where} ${varsDescription(c)}`,
});

const ssh = (where: string) => ({
  type: 'object',
  additionalProperties: false,
  description: `SSH settings ${where}.`,
  properties: {
    user: {
      type: 'string',
      pattern: '^[a-z_][a-z0-9_.-]*$',
      description: 'Login user (default root; for provider proxmox the cloud-init user of the host).',
    },
    port: { type: 'integer', minimum: 1, maximum: 65535, description: 'SSH port (default 22).' },
    key_file: nullable({
      type: 'string',
      minLength: 1,
      description:
        'Private key file, relative to the inventory file (or absolute, or ~/...). Default: none (ssh-agent) for static and proxmox; the generated key .pgha/<inventory>/id_ed25519 for provider lab.',
    }),
    become: {
      type: 'boolean',
      description: 'Run remote commands through `sudo -n` (default: true when user is not root, false for root).',
    },
    jump: nullable({
      type: 'string',
      pattern: JUMP_PATTERN,
      description:
        'Jump host (bastion) to reach the hosts through: the name of an inventory host (connected to directly), or [user@]host[:port] of an external one; none (or null) to connect directly. Default: ProxyJump from ~/.ssh/config (provider static and proxmox), else direct.',
    }),
  },
});

const labSettings = {
  type: 'object',
  additionalProperties: false,
  description: 'Local lab of systemd-nspawn hosts on this machine (provider lab).',
  properties: {
    bridge: {
      type: 'string',
      pattern: '^[A-Za-z0-9_.-]{1,15}$',
      description:
        'Bridge interface on the control machine (at most 15 characters). Default: pgha-<cluster>, shortened to 15 characters.',
    },
    bridge_address: {
      ...IPV4,
      description:
        "The control machine's address on the lab subnet: gateway and package cache for the lab hosts. Default: the first address of network.subnet (.1).",
    },
    cache_port: {
      type: 'integer',
      minimum: 1,
      maximum: 65535,
      description: 'Port of the apt package cache on bridge_address (default 3142).',
    },
    state_dir: {
      type: 'string',
      minLength: 1,
      description:
        'Where the lab keeps disks, pids and logs; relative paths are relative to the inventory file. Default /var/lib/pgha/labs/<cluster>.',
    },
  },
};

const proxmoxVmSettings = {
  cores: { type: 'integer', minimum: 1, maximum: 512, description: 'CPU cores.' },
  memory: { type: 'integer', minimum: 256, description: 'Memory in MiB.' },
  disk: {
    type: 'integer',
    minimum: 1,
    description: 'Size of the boot disk in GiB (the clone is grown to this size, never shrunk).',
  },
  ip: {
    enum: ['dhcp', 'static'],
    description:
      'static: cloud-init sets the host address with the subnet prefix and gateway; dhcp: the VM asks DHCP (address is then what the lease is expected to give).',
  },
  gateway: { ...IPV4, description: 'Default gateway for ip static (inside network.subnet).' },
  user: {
    type: 'string',
    pattern: '^[a-z_][a-z0-9_.-]*$',
    description: 'cloud-init user created on the VM (ciuser); SSH logs in as this user unless ssh.user says otherwise.',
  },
  ssh_public_key: {
    type: 'string',
    pattern: '^(ssh-|ecdsa-|sk-)',
    description: 'Public key text cloud-init authorizes for user (one or more lines).',
  },
};

const proxmoxSettings = {
  type: 'object',
  additionalProperties: false,
  required: ['api', 'template', 'storage', 'bridge'],
  description: 'Proxmox VE: VMs cloned from a cloud-init template (provider proxmox).',
  properties: {
    api: {
      type: 'object',
      additionalProperties: false,
      required: ['host', 'node', 'token_id'],
      description: 'How to reach the Proxmox API with an API token.',
      properties: {
        host: { type: 'string', minLength: 1, description: 'API host name or address.' },
        port: { type: 'integer', minimum: 1, maximum: 65535, description: 'API port (default 8006).' },
        node: { type: 'string', minLength: 1, description: 'Node that holds the template and gets the VMs.' },
        token_id: {
          type: 'string',
          pattern: '^[^@!\\s]+@[^@!\\s]+![A-Za-z][A-Za-z0-9._-]*$',
          description: 'API token id: user@realm!tokenname.',
        },
        token_secret_env: {
          type: 'string',
          pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
          description:
            'Name of the environment variable holding the token secret (default PGHA_PVE_TOKEN_SECRET). The secret itself never goes in the file.',
        },
        token_secret: {
          not: {},
          description:
            'Not allowed: the secret never goes in the inventory; export it in the variable named by token_secret_env.',
        },
        verify_tls: { type: 'boolean', description: "Verify the API's TLS certificate (default true)." },
        ca_file: nullable({
          type: 'string',
          minLength: 1,
          description: 'PEM file to trust for the API certificate (self-signed PVE), relative to the inventory file.',
        }),
      },
    },
    nodes: {
      type: 'array',
      minItems: 1,
      description:
        'Nodes of the Proxmox cluster pgha may put VMs on (default: api.node alone). A name, or a map with name and what differs on that node: template (vmid or name of a template on that node), storage, bridge.',
      items: {
        type: ['string', 'object'],
        minLength: 1,
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', minLength: 1, description: 'Node name.' },
          template: {
            type: ['integer', 'string'],
            minimum: 100,
            minLength: 1,
            description:
              'Template to clone for VMs on this node: vmid or VM name (default: provider.proxmox.template, cloned with a target node when it lives elsewhere on shared storage).',
          },
          storage: {
            type: 'string',
            minLength: 1,
            description: 'Storage for the disks on this node (default: provider.proxmox.storage).',
          },
          bridge: {
            type: 'string',
            minLength: 1,
            description: 'Bridge on this node (default: provider.proxmox.bridge).',
          },
        },
      },
    },
    spread: {
      type: 'boolean',
      description:
        'Put the members of each role (etcd, postgres, haproxy) on different nodes where there are enough (default true). A node that is offline is skipped when the spread still holds, refused when it does not.',
    },
    ha: {
      type: 'boolean',
      description:
        'Register the VMs as Proxmox HA resources (state started) with a node-affinity rule over nodes and negative resource-affinity rules keeping the members of each role apart (default false). Recovery on another node needs shared storage; the token needs Sys.Audit and Sys.Console on /.',
    },
    template: { type: 'integer', minimum: 100, description: 'vmid of the cloud-init template to clone.' },
    storage: { type: 'string', minLength: 1, description: 'Storage for the cloned disks, e.g. local-lvm.' },
    bridge: { type: 'string', minLength: 1, description: "Bridge of the VMs' network interface, e.g. vmbr0." },
    nameserver: nullable({ ...IPV4, description: "DNS server cloud-init sets on the VMs (default: the template's)." }),
    tag: {
      type: 'string',
      pattern: '^[a-z0-9][a-z0-9_.+-]*$',
      description: 'Tag marking the VMs this inventory created; destroy removes only those (default pgha-<cluster>).',
    },
    max_parallel_clones: {
      type: 'integer',
      minimum: 1,
      maximum: 16,
      description: 'Clones running at the same time (default 2).',
    },
    ssh_timeout: {
      type: 'integer',
      minimum: 10,
      description: 'Seconds to wait for a new VM to answer on SSH (default 300).',
    },
    defaults: {
      type: 'object',
      additionalProperties: false,
      description:
        'VM settings for every host that does not set them (defaults: cores 2, memory 2048, disk 20, ip static, user debian).',
      properties: proxmoxVmSettings,
    },
  },
};

const provider = {
  description:
    "Where the hosts come from: lab (default: systemd-nspawn hosts on this machine), static (existing hosts or bare metal, reached over SSH), or proxmox (VMs cloned on Proxmox VE). A name, or a map with type and that type's settings.",
  type: ['string', 'object'],
  if: { type: 'string' },
  then: { enum: ['lab', 'static', 'proxmox'] },
  else: {
    additionalProperties: false,
    required: ['type'],
    properties: {
      type: { enum: ['lab', 'static', 'proxmox'], description: 'Provider name.' },
      lab: labSettings,
      proxmox: proxmoxSettings,
    },
    if: { properties: { type: { const: 'proxmox' } } },
    then: { required: ['proxmox'] },
  },
};

const host = (c: Catalog) => ({
  type: 'object',
  additionalProperties: false,
  required: ['address', 'roles'],
  description: 'One machine.',
  properties: {
    address: {
      ...IPV4,
      description: 'IPv4 address pgha connects to and the cluster uses; inside network.subnet, unique.',
    },
    roles: {
      type: 'array',
      uniqueItems: true,
      items: { enum: roleNames(c) },
      description: `What runs here: ${c.roles.map((r) => `${r.name} (${r.doc})`).join(', ')}. Each role is also a group. An empty list ([]) declares a plain host that pgha only reaches over SSH, for pgha lab and pgha run; an inventory whose hosts all have no role builds no cluster.`,
    },
    groups: {
      type: 'array',
      uniqueItems: true,
      items: { type: 'string' },
      description:
        "Groups (declared under groups) this host belongs to, in precedence order: a later group's vars win.",
    },
    vars: vars(c, 'Host vars (highest precedence).'),
    ssh: ssh('for this host, over the inventory-wide ssh settings'),
    proxmox: {
      type: 'object',
      additionalProperties: false,
      description: 'VM settings for this host (provider proxmox), over provider.proxmox.defaults.',
      properties: {
        vmid: { type: 'integer', minimum: 100, description: 'vmid to use (default: the next free one).' },
        node: {
          type: 'string',
          minLength: 1,
          description: 'Node this VM goes to (one of provider.proxmox.nodes); default: chosen by the spread.',
        },
        ...proxmoxVmSettings,
      },
    },
  },
});

/** The inventory schema for the roles and variables the components declare. */
export const inventorySchema = (c: Catalog) => ({
  $id: 'https://pgha.dev/schema/inventory.json',
  title: 'pgha inventory',
  type: 'object',
  additionalProperties: false,
  required: ['cluster', 'network', 'hosts'],
  properties: {
    cluster: {
      type: 'string',
      pattern: CLUSTER_PATTERN,
      description:
        'Cluster name: lowercase letters, digits and dashes, at most 32 characters. Used as the Patroni scope, the etcd cluster token and in default names.',
    },
    provider,
    network: {
      type: 'object',
      additionalProperties: false,
      required: ['subnet'],
      description: "The hosts' network.",
      properties: {
        subnet: {
          type: 'string',
          pattern: '^[0-9.]+/[0-9]{1,2}$',
          description:
            'IPv4 subnet of the hosts in CIDR form, e.g. 10.77.0.0/24. Every host address and the VIP lie inside it.',
        },
        vip: nullable({
          ...IPV4,
          description:
            'Virtual IP keepalived moves between the haproxy hosts; clients connect to it (5001 primary, 5002 replicas, 5010 all). Required when a host has the haproxy role; not a host address.',
        }),
      },
    },
    ssh: ssh('for every host'),
    vars: vars(c, 'Cluster vars (lowest precedence).'),
    groups: {
      type: 'object',
      propertyNames: { pattern: HOSTNAME_PATTERN },
      description: `User groups (name -> settings). A host joins through its groups list. Names may not be a role (${roleNames(c).join(', ')}), all, or a host name.`,
      additionalProperties: {
        type: ['object', 'null'],
        additionalProperties: false,
        properties: {
          description: { type: 'string', description: 'What the group is for.' },
          vars: vars(c, 'Group vars (over cluster vars, under host vars).'),
          ssh: ssh(
            "for the hosts of this group, over the inventory-wide ones and under the host's own (a later group of a host wins)",
          ),
        },
      },
    },
    hosts: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: HOSTNAME_PATTERN },
      description:
        "The machines, by host name (lowercase letters, digits and dashes, starting with a letter). The name is also the machine's hostname and its Patroni and etcd member name.",
      additionalProperties: host(c),
    },
  },
});
