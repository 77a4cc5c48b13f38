// Creating one VM: allocate an id, full clone of the template, cloud-init + sizing, resize, start.
import { UserError } from '../../util/errors.js';
import type { Inventory, ProxmoxSettings } from '../../inventory/types.js';
import { PveApiError, PveTaskError, isTransient, sleep, type PveClient } from './client.js';
import { bootDisk, configParams, propertyString, type VmSpec } from './spec.js';
import type { NodePlan } from './place.js';
import { identity, recordVm } from './state.js';
import { getConfig, isMissing, runTask, startVm, waitUnlocked } from './vm.js';

/** At most n holders at a time. */
export class Slots {
  private waiting: (() => void)[] = [];
  private used = 0;
  constructor(private readonly n: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    while (this.used >= Math.max(1, this.n)) await new Promise<void>((r) => this.waiting.push(r));
    this.used++;
    try {
      return await fn();
    } finally {
      this.used--;
      this.waiting.shift()?.();
    }
  }
}

export interface CreateContext {
  c: PveClient;
  s: ProxmoxSettings;
  inv: Inventory;
  /** How VMs are made on each node (see place.ts). */
  plans: Map<string, NodePlan>;
  /** Ids handed out in this run (nextid reserves nothing, so parallel creates would get the same id). */
  reserved: Set<number>;
  cloneSlots: Slots;
  log(line: string): void;
}

class IdTaken extends Error {
  constructor(
    readonly vmid: number,
    readonly by: string,
  ) {
    super(`VM id ${vmid} is taken by ${by}`);
  }
}

const textOf = (e: unknown) =>
  e instanceof PveApiError ? e.all : e instanceof PveTaskError ? e.exitstatus : String(e);

/** A free VM id not handed out in this run and not in `exclude`. */
export async function allocateId(x: CreateContext, exclude: Set<number>): Promise<number> {
  const { c } = x;
  let n = Number(await c.retry('next free VM id', () => c.api.cluster.nextid.$get()));
  for (;;) {
    if (!x.reserved.has(n) && !exclude.has(n)) {
      x.reserved.add(n);
      return n;
    }
    n++;
    try {
      n = Number(await c.retry('check VM id', () => c.api.cluster.nextid.$get({ vmid: n })));
    } catch (e) {
      if (!(e instanceof PveApiError) || !/already exists/.test(e.all)) throw e;
      exclude.add(n);
    }
  }
}

/** Who owns `vmid` on the nodes a clone touches: its name, or undefined when there is no such VM there. */
async function ownerOf(x: CreateContext, p: NodePlan, vmid: number): Promise<string | undefined> {
  for (const node of new Set([p.node, p.cloneNode])) {
    try {
      const cfg = await getConfig(x.c, node, vmid);
      return String(cfg['name'] ?? `VM ${vmid}`);
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
  }
  return undefined;
}

/** The node plan of a placed spec. */
export function planOf(x: CreateContext, spec: VmSpec, clone = true): NodePlan {
  const p = x.plans.get(spec.node ?? x.s.api.node);
  if (!p || (clone && p.template === undefined))
    throw new UserError(`${spec.name}: no template to clone on node ${spec.node ?? x.s.api.node}`);
  return p;
}

/** Full clone into newid. Idempotent: a clone that was performed although its answer was lost (and re-sent) counts as done. */
async function cloneInto(x: CreateContext, spec: VmSpec, newid: number): Promise<Record<string, unknown>> {
  const { c } = x;
  const p = planOf(x, spec);
  const node = p.node;
  for (let attempt = 1; ; attempt++) {
    try {
      const upid = await x.c.api.nodes
        .$(p.cloneNode)
        .qemu.$(p.template!)
        .clone.$post({
          newid,
          name: spec.name,
          full: true,
          storage: p.storage,
          description: identity(x.inv, spec.name),
          ...(p.target ? { target: p.target } : {}),
        });
      await c.waitTask(String(upid));
      return await waitUnlocked(c, node, newid, 30 * 60_000);
    } catch (e) {
      const text = textOf(e);
      const owner = await ownerOf(x, p, newid);
      if (owner === spec.name) {
        x.log(
          `${spec.name}: VM ${newid} exists with our name after "${text}": the clone went through, waiting for it to finish`,
        );
        return await waitUnlocked(c, node, newid, 30 * 60_000);
      }
      if (owner !== undefined) throw new IdTaken(newid, `VM '${owner}'`);
      if (/already exists|File exists/.test(text)) throw new IdTaken(newid, 'a VM on another node');
      const noAnswer = e instanceof PveApiError && e.status === 0;
      if ((!isTransient(e) && !noAnswer) || attempt >= c.opts.attempts) throw e;
      const delay = c.opts.backoffMs * 2 ** (attempt - 1);
      x.log(`${spec.name}: clone into ${newid}: transient failure (${text}), retry in ${delay} ms`);
      await sleep(delay);
    }
  }
}

/** Create, configure and start the VM for spec. Returns its id and final config. */
export async function createVm(
  x: CreateContext,
  spec: VmSpec,
): Promise<{ vmid: number; config: Record<string, unknown> }> {
  const { c } = x;
  const p = planOf(x, spec);
  const node = p.node;
  const exclude = new Set<number>();
  let vmid = 0;
  let config: Record<string, unknown>;
  for (let tries = 0; ; tries++) {
    vmid = spec.vmid ?? (await allocateId(x, exclude));
    // Recorded before the clone is asked for: whatever happens next, pgha knows this id was meant for this host.
    recordVm(x.inv, spec.name, { vmid, node, finished: false });
    try {
      x.log(
        `${spec.name}: full clone of template ${p.template} on ${p.cloneNode} into VM ${vmid}${p.target ? ` on ${p.target}` : ''} (storage ${p.storage})`,
      );
      config = await x.cloneSlots.run(() => cloneInto(x, spec, vmid));
      break;
    } catch (e) {
      if (!(e instanceof IdTaken)) throw e;
      recordVm(x.inv, spec.name, undefined); // someone else's VM: not ours to delete
      if (spec.vmid !== undefined) {
        throw new UserError(
          `${spec.name}: the VM id ${vmid} from the inventory is already used by ${e.by}`,
          `pick a free id for hosts.${spec.name}.proxmox.vmid (pvesh get /cluster/nextid), or remove it to let pgha allocate one`,
        );
      }
      if (tries >= 10)
        throw new UserError(
          `${spec.name}: could not get a free VM id after ${tries + 1} attempts (last: ${e.message})`,
        );
      x.log(`${spec.name}: ${e.message} (another run took it), allocating again`);
      exclude.add(vmid);
    }
  }
  // The tag first, alone and synchronous, before anything that can fail: a VM pgha made is always recognisable.
  await c.retry(`tag VM ${vmid}`, () => c.api.nodes.$(node).qemu.$(vmid).config.$put({ tags: spec.tag }));
  config['tags'] = spec.tag;
  return finishVm(x, spec, vmid, config);
}

/** Configure (cloud-init, sizing, bridge), grow the disk and start a cloned VM; then record it as finished. */
export async function finishVm(
  x: CreateContext,
  spec: VmSpec,
  vmid: number,
  config: Record<string, unknown>,
): Promise<{ vmid: number; config: Record<string, unknown> }> {
  const { c } = x;
  const p = planOf(x, spec, false);
  const node = p.node;
  const params: Record<string, string | number> = configParams(spec);
  const net0 = config['net0'];
  if (typeof net0 === 'string' && propertyString(net0)['bridge'] !== p.bridge) {
    params['net0'] = /bridge=[^,]*/.test(net0)
      ? net0.replace(/bridge=[^,]*/, `bridge=${p.bridge}`)
      : `${net0},bridge=${p.bridge}`;
  }
  x.log(
    `${spec.name}: set cloud-init (${spec.ciuser}, ${spec.ipconfig0}, ${spec.sshKeys.length} ssh key(s)), ${spec.cores} cores, ${spec.memory} MiB, tag ${spec.tag}`,
  );
  await runTask(c, `configure VM ${vmid}`, () =>
    c.api.nodes
      .$(node)
      .qemu.$(vmid)
      .config.$post(params as never),
  );
  const disk = bootDisk(config);
  if (!disk)
    throw new UserError(
      `${spec.name}: the template ${p.templateRef} has no boot disk`,
      'add a disk to the template (qm set … --scsi0 …)',
    );
  if (disk.sizeGb === undefined || disk.sizeGb < spec.diskGb) {
    x.log(`${spec.name}: resize ${disk.key} to ${spec.diskGb} GiB`);
    await runTask(c, `resize disk of VM ${vmid}`, () =>
      c.api.nodes
        .$(node)
        .qemu.$(vmid)
        .resize.$put({ disk: disk.key as never, size: `${spec.diskGb}G` }),
    );
  } else if (disk.sizeGb > spec.diskGb) {
    x.log(
      `${spec.name}: the template disk (${disk.sizeGb} GiB) is larger than diskGb ${spec.diskGb}: kept (disks are never shrunk)`,
    );
  }
  x.log(`${spec.name}: start VM ${vmid}`);
  await startVm(c, node, vmid);
  recordVm(x.inv, spec.name, { vmid, node, finished: true });
  return { vmid, config: await getConfig(c, node, vmid) };
}
