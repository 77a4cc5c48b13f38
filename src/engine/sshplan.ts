// How each host is reached: its SSH settings with ~/.ssh/config filling what the inventory leaves unset
// (inventory > ssh config > built-in defaults), and the jump hosts in front of it, if any.
import { existsSync } from 'node:fs';
import type { Host, Inventory, SshField } from '../inventory/types.js';
import { UserError } from '../util/errors.js';
import {
  identityPath,
  loadSshConfig,
  parseProxyJump,
  sshConfigFor,
  tokenValues,
  tokens,
  type SshConfigFile,
} from './sshconfig.js';
import { parseJump, type JumpSpec } from '../util/jump.js';

export interface ConnectPlan {
  host: Host;
  /** Jump hosts in order (the first is connected to directly); empty for a direct connection. */
  jumps: Host[];
}

const ALL: SshField[] = ['user', 'port', 'keyFile', 'become', 'jump'];

/** The ssh config to apply to an inventory: none for lab inventories (the lab sets its own key and addresses). */
export function sshConfigOf(inv: Inventory, env: NodeJS.ProcessEnv = process.env): SshConfigFile | undefined {
  return inv.provider.type === 'lab' ? undefined : loadSshConfig(env);
}

/** A host's SSH settings with ssh config applied to what the inventory did not set; `proxyJump` is its ProxyJump, if any. */
export function resolveHost(h: Host, cfg: SshConfigFile | undefined): { host: Host; proxyJump?: string } {
  if (!cfg) return { host: h };
  const v = sshConfigFor(cfg, h.name, h.address);
  const set = new Set(h.ssh.explicit ?? ALL);
  const user = set.has('user') ? h.ssh.user : (v.user ?? h.ssh.user);
  const port = set.has('port') ? h.ssh.port : (v.port ?? h.ssh.port);
  const hostName = v.hostName && v.hostName !== h.address ? v.hostName : undefined;
  const values = tokenValues({ name: h.name, hostName: hostName ?? h.address, port, user });
  const fromConfig = set.has('keyFile')
    ? undefined
    : v.identityFiles.map((f) => identityPath(f, values)).find((f) => existsSync(f));
  const keyFile = fromConfig ?? h.ssh.keyFile;
  const ssh = {
    ...h.ssh,
    user,
    port,
    become: set.has('become') ? h.ssh.become : user !== 'root',
    ...(keyFile ? { keyFile } : {}),
    ...(hostName ? { hostName } : {}),
  };
  const proxyJump = !set.has('jump') && v.proxyJump ? tokens(v.proxyJump, values) : undefined;
  return { host: { ...h, ssh }, ...(proxyJump ? { proxyJump } : {}) };
}

/** An external jump host ([user@]host[:port]) as a Host to connect to, with ssh config for its name. */
function externalHop(spec: JumpSpec, target: Host, cfg: SshConfigFile | undefined): Host {
  const v = cfg ? sshConfigFor(cfg, spec.host, spec.host) : undefined;
  const user = spec.user ?? v?.user ?? target.ssh.user;
  const port = spec.port ?? v?.port ?? 22;
  const address = v?.hostName ?? spec.host;
  const values = tokenValues({ name: spec.host, hostName: address, port, user });
  const keyFile = v?.identityFiles.map((f) => identityPath(f, values)).find((f) => existsSync(f)) ?? target.ssh.keyFile;
  return {
    name: spec.host,
    address,
    roles: [],
    groups: [],
    ssh: { user, port, become: false, ...(keyFile ? { keyFile } : {}) },
    vars: {},
  };
}

/** Connection plans for the given hosts, in their order. */
export function planConnections(
  inv: Inventory,
  hosts: Host[],
  env: NodeJS.ProcessEnv = process.env,
): Map<string, ConnectPlan> {
  const cfg = sshConfigOf(inv, env);
  const resolved = new Map(inv.hosts.map((h) => [h.name, resolveHost(h, cfg)]));
  const hop = (spec: JumpSpec, target: Host): Host => {
    const own = !spec.user && !spec.port ? resolved.get(spec.host) : undefined;
    return own ? own.host : externalHop(spec, target, cfg);
  };
  const plans = new Map<string, ConnectPlan>();
  for (const h of hosts) {
    const r = resolved.get(h.name) ?? resolveHost(h, cfg);
    let specs: JumpSpec[] = [];
    const jump = h.ssh.jump;
    if (jump && jump !== 'none') {
      const spec = parseJump(jump);
      if (!spec)
        throw new UserError(
          `${h.name}: ssh.jump '${jump}' is not an inventory host or [user@]host[:port]`,
          `fix ssh.jump in ${inv.file}`,
        );
      specs = [spec];
    } else if (!jump && r.proxyJump) specs = parseProxyJump(r.proxyJump, cfg!.file);
    // A jump host is reached directly: it never goes through itself.
    const self = [h.name, h.address, r.host.ssh.hostName];
    const at = specs.findIndex((s) => self.includes(s.host));
    if (at >= 0) specs = specs.slice(0, at);
    plans.set(h.name, { host: r.host, jumps: specs.map((s) => hop(s, r.host)) });
  }
  return plans;
}
