// The simulated cluster's environment and the VM helpers the handlers share: config in and out, permission checks
// of config keys, the list entry of a VM, tasks and power-off.
import { ClusterState, PveFail, normTags, parseSize, type AgentIface, type SimVm } from './state.js';

export interface SimVmInfo {
  vmid: number;
  name: string;
  node: string;
  cloudInit: { ciuser?: string; sshkeys: string[]; ipconfig0?: string; nameserver?: string };
  config: Record<string, string>;
}

export interface Hooks {
  /** Called in the start worker before the VM counts as running; may return what the guest agent will report. */
  onStart?: (vm: SimVmInfo) => void | { interfaces?: AgentIface[] } | Promise<void | { interfaces?: AgentIface[] }>;
  onStop?: (vm: SimVmInfo) => void | Promise<void>;
  onDelete?: (vm: SimVmInfo) => void | Promise<void>;
  /** Agent answer for a started VM when onStart gives none (default: lo + eth0 with ipconfig0's static address). */
  agentFor?: (vm: SimVmInfo) => AgentIface[] | undefined;
}

export interface SimEnv {
  st: ClusterState;
  hooks: Hooks;
  /** storage → nodes where it is enabled. */
  storages: Record<string, string[]>;
  nodes: string[];
  /** Nodes that are down: the API answers for them with 595 (pveproxy cannot reach them). */
  offline: Set<string>;
  /** storage → its content types and whether it is active (default: images,rootdir and active). */
  storageInfo: Record<string, { content?: string; active?: boolean; shared?: boolean }>;
  /** node → its bridges (default: vmbr0). */
  bridges: Record<string, string[]>;
  cloneMs: number;
  taskMs: number;
  rrdDelayMs: number;
}

export type P = Record<string, string>;

export function infoOf(vm: SimVm): SimVmInfo {
  let keys: string[];
  try {
    keys = decodeURIComponent(vm.config['sshkeys'] ?? '')
      .split('\n')
      .filter(Boolean);
  } catch {
    keys = [];
  }
  const c = vm.config;
  return {
    vmid: vm.vmid,
    name: c['name'] ?? `VM ${vm.vmid}`,
    node: vm.node,
    config: { ...c },
    cloudInit: { ciuser: c['ciuser'], sshkeys: keys, ipconfig0: c['ipconfig0'], nameserver: c['nameserver'] },
  };
}

export function defaultAgent(vm: SimVm): AgentIface[] {
  const ip = /ip=([\d.]+)\/(\d+)/.exec(vm.config['ipconfig0'] ?? '');
  const mac = /=([0-9A-F:]{17})/i.exec(vm.config['net0'] ?? '')?.[1]?.toLowerCase();
  const lo: AgentIface = {
    name: 'lo',
    'hardware-address': '00:00:00:00:00:00',
    'ip-addresses': [{ 'ip-address': '127.0.0.1', 'ip-address-type': 'ipv4', prefix: 8 }],
  };
  const eth: AgentIface = {
    name: 'eth0',
    'hardware-address': mac,
    'ip-addresses': ip ? [{ 'ip-address': ip[1]!, 'ip-address-type': 'ipv4', prefix: Number(ip[2]) }] : [],
  };
  return [lo, eth];
}

export const INT_KEYS = new Set(['cores', 'sockets', 'template', 'vcpus']);
export function configOut(vm: SimVm): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(vm.config)) out[k] = INT_KEYS.has(k) ? Number(v) : v;
  out['digest'] = Buffer.from(JSON.stringify(vm.config)).toString('hex').slice(0, 40);
  return out;
}

/** Per-key privileges of a config change (QS Qemu.pm $check_vm_modify_config_perm). */
export function checkConfigPerms(
  st: ClusterState,
  path: string,
  keys: string[],
  storages: string[],
  bridge?: string,
): void {
  for (const k of keys) {
    if (/^(ciuser|cipassword|sshkeys|nameserver|searchdomain|citype|ciupgrade|cicustom|ipconfig\d+)$/.test(k))
      st.require(path, ['VM.Config.Cloudinit', 'VM.Config.Network'], true);
    else if (/^(cores|sockets|vcpus|cpu|cpulimit|cpuunits|numa)$/.test(k)) st.require(path, ['VM.Config.CPU']);
    else if (/^(memory|balloon|shares)$/.test(k)) st.require(path, ['VM.Config.Memory']);
    else if (/^net\d+$/.test(k)) st.require(path, ['VM.Config.Network']);
    else if (/^(scsi|virtio|sata|ide|efidisk|tpmstate|unused)\d+$/.test(k)) st.require(path, ['VM.Config.Disk']);
    else st.require(path, ['VM.Config.Options']);
  }
  for (const s of storages) st.require(`/storage/${s}`, ['Datastore.AllocateSpace']);
  if (bridge) st.require(`/sdn/zones/localnetwork/${bridge}`, ['SDN.Use']);
}

export function applyConfig(vm: SimVm, p: P): void {
  for (const k of (p['delete'] ?? '').split(/[,;\s]+/).filter(Boolean)) delete vm.config[k];
  for (const [k, v] of Object.entries(p)) {
    if (['node', 'vmid', 'delete', 'digest', 'background_delay', 'skiplock'].includes(k)) continue;
    vm.config[k] = k === 'tags' ? normTags(v) : v;
  }
}

/** Early checks of PUT and POST config (synchronous HTTP errors). */
export function configPrecheck(env: SimEnv, p: P): SimVm {
  const vm = env.st.vmOn(p['node']!, Number(p['vmid']));
  const keys = Object.keys(p).filter((k) => !['node', 'vmid', 'digest', 'background_delay', 'skiplock'].includes(k));
  if (!keys.length) throw new PveFail(500, 'no options specified');
  if (vm.config['lock']) throw new PveFail(500, `VM is locked (${vm.config['lock']})`);
  const bridge = p['net0'] ? /bridge=([^,]+)/.exec(p['net0'])?.[1] : undefined;
  checkConfigPerms(
    env.st,
    `/vms/${vm.vmid}`,
    keys.flatMap((k) => (k === 'delete' ? p[k]!.split(/[,;\s]+/) : [k])),
    [],
    bridge,
  );
  if (p['sshkeys'] !== undefined) {
    const text = decodeURIComponent(p['sshkeys']);
    for (const line of text.split('\n').filter((l) => l.trim())) {
      if (!/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-\S+) [A-Za-z0-9+/]+=*( .*)?$/.test(line.trim()))
        throw new PveFail(500, 'SSH public key validation error');
    }
  }
  return vm;
}

export function vmEntry(env: SimEnv, vm: SimVm): Record<string, unknown> {
  const fresh = Date.now() - vm.createdAt < env.rrdDelayMs;
  const size = parseSize(/size=([^,]+)/.exec(vm.config['scsi0'] ?? '')?.[1] ?? '0');
  return {
    id: `qemu/${vm.vmid}`,
    vmid: vm.vmid,
    node: vm.node,
    type: 'qemu',
    status: fresh ? 'unknown' : vm.status,
    ...(fresh ? {} : { name: vm.config['name'] }),
    template: vm.config['template'] === '1' ? 1 : 0,
    ...(vm.config['tags'] ? { tags: vm.config['tags'] } : {}),
    ...(vm.config['lock'] ? { lock: vm.config['lock'] } : {}),
    maxcpu: Number(vm.config['cores'] ?? 1),
    maxmem: Number(/\d+/.exec(vm.config['memory'] ?? '512')![0]) * 1024 * 1024,
    maxdisk: size,
    cpu: 0,
    mem: 0,
    disk: 0,
    uptime: vm.status === 'running' ? 10 : 0,
    netin: 0,
    netout: 0,
    diskread: 0,
    diskwrite: 0,
    hastate: undefined,
  };
}

export function task(env: SimEnv, p: P) {
  if (!/^UPID:[a-zA-Z0-9-]+:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:[^:\s/]+:[^:\s/]*:[^:\s/]+:$/i.test(p['upid']!)) {
    throw new PveFail(400, 'Parameter verification failed.', { upid: 'unable to parse worker upid' });
  }
  const t = env.st.tasks.get(p['upid']!);
  if (!t || t.node !== p['node']) throw new PveFail(400, 'Parameter verification failed.', { upid: 'no such task' });
  return t;
}

export function powerOff(env: SimEnv, p: P, type: string): string {
  const vm = env.st.vmOn(p['node']!, Number(p['vmid']));
  return env.st.startTask(vm.node, type, String(vm.vmid), async () => {
    await env.st.flock(vm.node, vm.vmid, 10_000, async () => {
      if (vm.status === 'stopped') return;
      await env.st.work(env.taskMs);
      vm.status = 'stopped';
      vm.agent = undefined;
      await env.hooks.onStop?.(infoOf(vm));
    });
  });
}
