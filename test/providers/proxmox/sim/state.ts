// The simulated cluster: VMs, node-local flocks, worker tasks with UPIDs, token ACLs. Error texts are the ones Proxmox VE answers with.

export interface AgentIface {
  name: string;
  'hardware-address'?: string;
  'ip-addresses'?: { 'ip-address': string; 'ip-address-type': 'ipv4' | 'ipv6'; prefix: number }[];
}

export interface SimVm {
  vmid: number;
  node: string;
  config: Record<string, string>;
  status: 'running' | 'stopped';
  /** Guest agent answer once running (undefined: agent not answering yet). */
  agent?: AgentIface[];
  createdAt: number;
}

export interface SimTask {
  upid: string;
  node: string;
  type: string;
  id: string;
  starttime: number;
  pid: number;
  status: 'running' | 'stopped';
  exitstatus?: string;
  log: string[];
}

/** Thrown inside handlers and workers: HTTP status + message (+ parameter errors). */
export class PveFail extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
  }
}

export const ALL_PRIVS = [
  'VM.Allocate',
  'VM.Clone',
  'VM.Audit',
  'VM.Config.Cloudinit',
  'VM.Config.Network',
  'VM.Config.Options',
  'VM.Config.Disk',
  'VM.Config.CPU',
  'VM.Config.Memory',
  'VM.Config.CDROM',
  'VM.Config.HWType',
  'VM.PowerMgmt',
  'VM.GuestAgent.Audit',
  'VM.GuestAgent.Unrestricted',
  'Datastore.AllocateSpace',
  'Datastore.Audit',
  'SDN.Use',
  'Sys.Audit',
  'Sys.Modify',
  'Sys.Console',
];

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class ClusterState {
  readonly vms = new Map<number, SimVm>();
  readonly tasks = new Map<string, SimTask>();
  /** HA resources (sid → settings) and rules (id → settings, resources as a comma list). */
  readonly ha = {
    resources: new Map<string, { state: string; comment?: string }>(),
    rules: new Map<string, Record<string, string>>(),
  };
  /** Node-local flocks on lock-<vmid>.conf: exclusive holder count (-1) or shared holders (>0). */
  private readonly flocks = new Map<string, number>();
  /** Token ACL: path → privileges; the most specific path wins (PVE propagation). */
  acl: Record<string, string[]> = { '/': [...ALL_PRIVS] };
  private pid = 0x2a1f0;
  private macSeq = 1;

  constructor(
    readonly user: string,
    readonly tokenName: string,
    readonly timeScale: number,
  ) {}

  // ---- permissions
  privsAt(path: string): Set<string> {
    let p = path;
    for (;;) {
      const hit = this.acl[p];
      if (hit) return new Set(hit);
      if (p === '/') return new Set();
      p = p.slice(0, p.lastIndexOf('/')) || '/';
    }
  }
  has(path: string, priv: string): boolean {
    return this.privsAt(path).has(priv);
  }
  require(path: string, privs: string[], any = false): void {
    const have = this.privsAt(path);
    const ok = any ? privs.some((p) => have.has(p)) : privs.every((p) => have.has(p));
    if (!ok)
      throw new PveFail(
        403,
        `Permission check failed (${path}, ${any ? privs.join('|') : privs.find((p) => !have.has(p))})`,
      );
  }

  // ---- flocks
  async flock<T>(node: string, vmid: number, timeoutMs: number, fn: () => Promise<T>, shared = false): Promise<T> {
    const key = `${node}/${vmid}`;
    const deadline = Date.now() + timeoutMs * this.timeScale;
    for (;;) {
      const cur = this.flocks.get(key) ?? 0;
      if (cur === 0 || (shared && cur > 0)) break;
      if (Date.now() >= deadline)
        throw new PveFail(500, `can't lock file '/var/lock/qemu-server/lock-${vmid}.conf' - got timeout`);
      await sleep(5);
    }
    this.flocks.set(key, shared ? (this.flocks.get(key) ?? 0) + 1 : -1);
    try {
      return await fn();
    } finally {
      const cur = this.flocks.get(key) ?? 0;
      if (cur > 1) this.flocks.set(key, cur - 1);
      else this.flocks.delete(key);
    }
  }

  // ---- tasks
  /** Start a worker; answers its UPID at once. The worker's errors only show in the task status and log. */
  startTask(node: string, type: string, id: string, work: (log: (l: string) => void) => Promise<void>): string {
    const starttime = Math.floor(Date.now() / 1000);
    const pid = this.pid++;
    const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
    const upid = `UPID:${node}:${hex(pid)}:${hex(0xc8e2b1)}:${hex(starttime)}:${type}:${id}:${this.user}!${this.tokenName}:`;
    const task: SimTask = { upid, node, type, id, starttime, pid, status: 'running', log: [] };
    this.tasks.set(upid, task);
    const log = (l: string) => task.log.push(l);
    void (async () => {
      await sleep(1);
      try {
        await work(log);
        task.exitstatus = 'OK';
        log('TASK OK');
      } catch (e) {
        const msg = (e as Error).message.trim();
        task.exitstatus = msg.replace(/\n/g, ' ');
        log(`TASK ERROR: ${msg}`);
      }
      task.status = 'stopped';
    })();
    return upid;
  }

  /** Simulated work time, scaled. */
  work(ms: number): Promise<void> {
    return sleep(ms * this.timeScale);
  }

  // ---- VMs
  vmOn(node: string, vmid: number): SimVm {
    const vm = this.vms.get(vmid);
    if (!vm || vm.node !== node)
      throw new PveFail(500, `Configuration file 'nodes/${node}/qemu-server/${vmid}.conf' does not exist`);
    return vm;
  }
  newMac(): string {
    const n = this.macSeq++;
    return `BC:24:11:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`.toUpperCase();
  }
  nextFree(): number {
    for (let id = 100; id < 1_000_000; id++) if (!this.vms.has(id)) return id;
    throw new PveFail(500, 'unable to get any free VMID in range [100, 1000000]');
  }
  addTemplate(t: {
    vmid: number;
    node: string;
    name: string;
    storage: string;
    diskSize?: string;
    tags?: string;
    agent?: boolean;
    bridge?: string;
  }): void {
    this.vms.set(t.vmid, {
      vmid: t.vmid,
      node: t.node,
      status: 'stopped',
      createdAt: 0,
      config: {
        name: t.name,
        template: '1',
        cores: '1',
        memory: '1024',
        ostype: 'l26',
        scsihw: 'virtio-scsi-single',
        boot: 'order=scsi0',
        scsi0: `${t.storage}:base-${t.vmid}-disk-0,iothread=1,size=${t.diskSize ?? '2G'}`,
        ide2: `${t.storage}:vm-${t.vmid}-cloudinit,media=cdrom`,
        net0: `virtio=${this.newMac()},bridge=${t.bridge ?? 'vmbr0'}`,
        serial0: 'socket',
        vga: 'serial0',
        ...(t.agent === false ? {} : { agent: '1' }),
        ...(t.tags ? { tags: t.tags } : {}),
      },
    });
  }
}

/** Tags as PVE stores them: split on ; , or space, lower-cased, sorted, unique, joined with ;. */
export function normTags(v: string): string {
  return [
    ...new Set(
      v
        .split(/[;,\s]+/)
        .filter(Boolean)
        .map((t) => t.toLowerCase()),
    ),
  ]
    .sort()
    .join(';');
}

/** Size strings in bytes (`2G`, `512M`, bytes without unit) and back to PVE's short form. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)$/.exec(s);
  if (!m) return NaN;
  return Math.round(Number(m[1]) * 1024 ** ' KMGT'.indexOf(m[2] || ' '));
}
export function formatSize(bytes: number): string {
  for (const [u, n] of [
    ['T', 4],
    ['G', 3],
    ['M', 2],
    ['K', 1],
  ] as const)
    if (bytes % 1024 ** n === 0) return `${bytes / 1024 ** n}${u}`;
  return String(bytes);
}
