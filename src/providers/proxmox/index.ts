// The Proxmox provider: every inventory host is a VM cloned from a cloud-init template, found again by name.
import type { Host, Inventory, ProxmoxSettings } from '../../inventory/types.js';
import type { HostState, Provider, ProviderChange, ProviderContext } from '../types.js';
import { RunError, UserError } from '../../util/errors.js';
import { createClient, type ClientOptions, type PveClient } from './client.js';
import { createVm, finishVm, Slots, type CreateContext } from './create.js';
import { explain } from './explain.js';
import { nodePlan, place, type NodePlan } from './place.js';
import { onlineNodes, preflight } from './preflight.js';
import { deleteRules, haPlan, readHa, registerHa, sidOf, unregisterHa } from './ha.js';
import { identity, recordedVms, recordVm } from './state.js';
import { bootDisk, drift, settingsOf, specFor, type VmSpec } from './spec.js';
import { deleteVm, getConfig, listVms, shutdownVm, startVm, stopVm, type VmEntry } from './vm.js';
import { inLimit, limitedHosts } from '../../inventory/limit.js';
import { net0Mac, waitForAgentAddress, waitForSsh, type SshWaiter } from './wait.js';
import { byName, destroyable, isOurs, ours } from './owned.js';

export interface ProxmoxProviderOptions {
  client?: Omit<ClientOptions, 'log'>;
  /** How to wait for SSH (default: TCP connect to address:port until sshTimeoutSec). */
  waitSsh?: SshWaiter;
  /** Poll interval of the guest agent address wait (DHCP). */
  agentPollMs?: number;
}

/** Settled results to one error: a single failure as is, several as a per-host RunError. */
function rethrow(step: string, hosts: string[], results: PromiseSettledResult<unknown>[]): void {
  const failures = results.flatMap((r, i) =>
    r.status === 'rejected' ? [{ host: hosts[i]!, error: r.reason as Error }] : [],
  );
  // The same error on every host (a missing privilege, a wrong storage) is reported once.
  if (
    failures.length &&
    new Set(failures.map((f) => f.error.message.replace(f.host, ''))).size === 1 &&
    failures[0]!.error instanceof UserError
  )
    throw failures[0]!.error;
  if (failures.length === 1) throw failures[0]!.error;
  if (failures.length > 1) throw new RunError(step, failures);
}

export function createProxmoxProvider(options: ProxmoxProviderOptions = {}): Provider {
  const waitSsh = options.waitSsh ?? waitForSsh;

  async function withClient<T>(
    inv: Inventory,
    log: (l: string) => void,
    fn: (c: PveClient, s: ProxmoxSettings) => Promise<T>,
    warned = false,
  ): Promise<T> {
    const s = settingsOf(inv);
    // up and plan print the inventory's warnings (this one included); the other commands say it here.
    if (!s.api.verifyTls && !warned)
      log(
        `warning: TLS verification of the Proxmox API at ${s.api.host} is off (verify_tls: false): set ca_file instead`,
      );
    const c = createClient(s.api, { ...options.client, log });
    try {
      return await fn(c, s);
    } catch (e) {
      throw explain(e, `proxmox ${s.api.host}`, s);
    } finally {
      await c.close();
    }
  }

  /** DHCP hosts: learn the address from the guest agent and write it into host.address. Then wait for SSH. */
  async function reachable(
    c: PveClient,
    s: ProxmoxSettings,
    spec: VmSpec,
    vm: { vmid: number; node: string },
    config: Record<string, unknown>,
    log: (l: string) => void,
  ): Promise<void> {
    const h: Host = spec.host;
    if (spec.dhcp) {
      const addr = await waitForAgentAddress(
        c,
        vm.node,
        vm.vmid,
        h.name,
        net0Mac(config),
        s.sshTimeoutSec,
        options.agentPollMs,
      );
      if (addr !== h.address) log(`${h.name}: address from DHCP (guest agent): ${addr}`);
      h.address = addr;
    }
    await waitSsh(h.name, h.address, h.ssh.port, s.sshTimeoutSec);
  }

  async function up(inv: Inventory, ctx: ProviderContext): Promise<ProviderChange[]> {
    const s = settingsOf(inv);
    const specs = limitedHosts(inv).map((h) => specFor(inv, h));
    return withClient(
      inv,
      ctx.log,
      async (c) => {
        const vms = await listVms(c);
        const named = byName(inv, vms);
        const plan: {
          spec: VmSpec;
          vm?: VmEntry;
          config?: Record<string, unknown>;
          unfinished?: boolean;
          drift?: string[];
        }[] = [];
        const records = recordedVms(inv);
        for (const spec of specs) {
          const vm = named.get(spec.name);
          const rec = records[spec.name];
          if (vm) {
            spec.node = vm.node;
            const config = await getConfig(c, vm.node, vm.vmid);
            const unfinished = !!rec && rec.vmid === vm.vmid && !rec.finished;
            plan.push({ spec, vm, config, unfinished, drift: unfinished ? [] : drift(spec, config) });
          } else {
            plan.push({ spec });
          }
        }
        // Where the new VMs go: the nodes that answer, existing VMs where they are, the rest spread by role.
        const cluster = await onlineNodes(c);
        const placing = place(
          inv,
          s,
          new Map(plan.flatMap((q) => (q.vm ? [[q.spec.name, q.vm.node] as [string, string]] : []))),
          cluster.online,
        );
        const plans = new Map<string, NodePlan>();
        for (const q of plan) {
          const where = placing.placed.get(q.spec.name);
          if (!q.vm && where) q.spec.node = where.node;
          const node = q.spec.node ?? s.api.node;
          if (!plans.has(node)) plans.set(node, nodePlan(s, node, vms));
        }
        for (const n of placing.notes) ctx.log(`proxmox: ${n}`);
        const changes: ProviderChange[] = [];
        for (const q of plan) {
          const { spec, vm } = q;
          if (vm && q.unfinished) {
            changes.push({
              host: spec.name,
              action: 'create',
              summary: `finish VM ${vm.vmid} on ${vm.node}, left unfinished by an earlier run: configure, grow the disk, start`,
            });
          } else if (vm) {
            if (q.drift!.length) {
              changes.push({
                host: spec.name,
                action: 'drift',
                summary: `VM ${vm.vmid} on ${vm.node} differs from the inventory: ${q.drift!.join('; ')} (left as is: change it in Proxmox, or destroy and re-create)`,
              });
            }
            if (vm.status !== 'running')
              changes.push({
                host: spec.name,
                action: 'start',
                summary: `start VM ${vm.vmid} on ${vm.node} (${vm.status})`,
              });
          } else {
            const p = plans.get(spec.node ?? s.api.node)!;
            const why = placing.placed.get(spec.name)?.why;
            const from = p.target
              ? `template ${p.templateRef} on ${p.cloneNode} (shared storage, target ${p.node})`
              : `template ${p.templateRef} on ${p.node}`;
            changes.push({
              host: spec.name,
              action: 'create',
              summary: `on node ${p.node}${why ? ` (${why})` : ''}: clone ${from} into VM ${spec.vmid ?? '(next free id)'}: ${spec.cores} cores, ${spec.memory} MiB, ${spec.diskGb} GiB on ${p.storage}, bridge ${p.bridge}, ${spec.ipconfig0}, tag ${spec.tag}${s.ha ? ', then a Proxmox HA resource' : ''}`,
            });
          }
        }
        const creating = plan.filter((q) => !q.vm).map((q) => q.spec);
        await preflight(
          c,
          s,
          inv,
          {
            create: creating,
            start: plan.flatMap((q) => (q.vm && q.vm.status !== 'running' ? [q.vm] : [])),
            vms,
            plans: [...new Set(creating.map((x) => x.node ?? s.api.node))].map((n) => plans.get(n)!),
            placement: placing.problems,
            clusterNodes: cluster.known,
            online: cluster.online,
          },
          ctx.log,
        );
        const ha = s.ha
          ? await haPlan(
              c,
              plan.map((q) => {
                const node = q.spec.node ?? s.api.node;
                return {
                  host: q.spec.name,
                  vmid: q.vm?.vmid,
                  node,
                  storage: (q.config && bootDisk(q.config)?.storage) || plans.get(node)!.storage,
                };
              }),
            )
          : undefined;
        if (ha) {
          changes.push(...ha.changes);
          for (const n of ha.notes) ctx.log(`proxmox: ${n}`);
        }
        if (ctx.check) {
          // Existing DHCP hosts: one look at the guest agent (read only) so the plan connects to the right address.
          for (const p of plan.filter((q) => q.vm?.status === 'running' && q.spec.dhcp)) {
            const addr = await waitForAgentAddress(
              c,
              p.vm!.node,
              p.vm!.vmid,
              p.spec.name,
              net0Mac(p.config ?? {}),
              0,
            ).catch(() => undefined);
            if (addr) p.spec.host.address = addr;
          }
          return changes;
        }
        const x: CreateContext = {
          c,
          s,
          inv,
          plans,
          reserved: new Set(),
          cloneSlots: new Slots(s.maxParallelClones),
          log: ctx.log,
        };
        const vmids = new Map<string, number>();
        const results = await Promise.allSettled(
          plan.map(async (p) => {
            let vm = p.vm ? { vmid: p.vm.vmid, node: p.vm.node } : undefined;
            let config = p.config ?? {};
            if (!vm) {
              const made = await createVm(x, p.spec);
              vm = { vmid: made.vmid, node: p.spec.node ?? s.api.node };
              config = made.config;
            } else if (p.unfinished) {
              ctx.log(`${p.spec.name}: finish VM ${vm.vmid} (left unfinished by an earlier run)`);
              config = (await finishVm(x, p.spec, vm.vmid, config)).config;
            } else if (p.vm!.status !== 'running') {
              ctx.log(`${p.spec.name}: start VM ${vm.vmid}`);
              await startVm(c, vm.node, vm.vmid);
            }
            vmids.set(p.spec.name, vm.vmid);
            await reachable(c, s, p.spec, vm, config, ctx.log);
          }),
        );
        rethrow(
          'proxmox up',
          plan.map((p) => p.spec.name),
          results.map((r) =>
            r.status === 'rejected'
              ? { status: 'rejected' as const, reason: explain(r.reason, `proxmox ${s.api.host}`, s) }
              : r,
          ),
        );
        if (ha)
          for (const l of await registerHa(c, inv, s, vmids, ha.state, (h) => identity(inv, h)))
            ctx.log(`proxmox: ${l}`);
        return changes;
      },
      true,
    );
  }

  async function down(inv: Inventory, ctx: ProviderContext): Promise<ProviderChange[]> {
    return withClient(inv, ctx.log, async (c, s) => {
      const list = (await ours(c, s, inv, ctx.log)).filter((o) => o.vm.status === 'running' && inLimit(inv, o.host));
      const changes = list.map((o) => ({
        host: o.host,
        action: 'change' as const,
        summary: `shut down VM ${o.vm.vmid} on ${o.vm.node} (disks kept)`,
      }));
      if (ctx.check) return changes;
      const results = await Promise.allSettled(list.map((o) => shutdownVm(c, o.vm.node, o.vm.vmid)));
      rethrow(
        'proxmox down',
        list.map((o) => o.host),
        results,
      );
      return changes;
    });
  }

  async function destroy(inv: Inventory, ctx: ProviderContext): Promise<ProviderChange[]> {
    return withClient(inv, ctx.log, async (c, s) => {
      const { done, unfinished, gone } = await destroyable(c, s, inv, ctx.log);
      const ha = s.ha ? await readHa(c) : undefined;
      const list = [...done, ...(ctx.cleanupUnfinished ? unfinished : [])].filter((o) => inLimit(inv, o.host));
      const changes: ProviderChange[] = list.map((o) => ({
        host: o.host,
        action: 'delete' as const,
        summary: `stop and delete VM ${o.vm.vmid} on ${o.vm.node} with its disks (purge)${'why' in o ? ` (unfinished: ${o.why})` : ''}`,
      }));
      if (!ctx.cleanupUnfinished) {
        for (const u of unfinished.filter((o) => inLimit(inv, o.host))) {
          const summary = `VM ${u.vm.vmid} on ${u.vm.node} left alone: ${u.why}; pgha destroy --cleanup-unfinished deletes it`;
          ctx.log(`${u.host}: ${summary}`);
          changes.push({ host: u.host, action: 'drift', summary });
        }
      }
      if (ctx.check) return changes;
      for (const host of gone.filter((h) => inLimit(inv, h))) recordVm(inv, host, undefined);
      const results = await Promise.allSettled(
        list.map(async (o) => {
          if (ha?.resources.has(sidOf(o.vm.vmid))) await unregisterHa(c, o.vm.vmid); // else HA would start it again
          if (o.vm.status !== 'stopped') await stopVm(c, o.vm.node, o.vm.vmid);
          await deleteVm(c, o.vm.node, o.vm.vmid);
          if (recordedVms(inv)[o.host]?.vmid === o.vm.vmid) recordVm(inv, o.host, undefined);
        }),
      );
      rethrow(
        'proxmox destroy',
        list.map((o) => o.host),
        results,
      );
      if (ha && !Object.keys(recordedVms(inv)).length)
        for (const id of await deleteRules(c, inv)) ctx.log(`proxmox: HA rule ${id} deleted`);
      return changes;
    });
  }

  async function status(inv: Inventory): Promise<HostState[]> {
    return withClient(
      inv,
      (l) => {
        if (l.startsWith('warning: ')) process.stderr.write(`${l}\n`);
      },
      async (c, s) => {
        const named = byName(inv, await listVms(c));
        return inv.hosts.map((h): HostState => {
          const vm = named.get(h.name);
          if (!vm) return { host: h.name, state: 'absent' };
          const state = vm.status === 'running' ? 'running' : vm.status === 'stopped' ? 'stopped' : 'unknown';
          return {
            host: h.name,
            state,
            detail: `VM ${vm.vmid} on ${vm.node}${isOurs(vm, s) ? '' : ` (not tagged ${s.tag})`}${vm.lock ? ` lock ${vm.lock}` : ''}`,
          };
        });
      },
    );
  }

  return { name: 'proxmox', up, down, destroy, status };
}

export const proxmoxProvider: Provider = createProxmoxProvider();
