// Reading and operating existing VMs: list by name, config, lock waits, start/stop/delete (all idempotent).
import { ProviderError } from '../../util/errors.js';
import { PveApiError, PveTaskError, sleep, type PveClient } from './client.js';

export interface VmEntry {
  vmid: number;
  node: string;
  name?: string;
  status: string;
  template: boolean;
  tags: string;
  lock?: string;
}

/** All qemu VMs the token may see (VM.Audit). Fresh VMs (no name, status unknown until the stats refresh) are read from their config and status. */
export async function listVms(c: PveClient): Promise<VmEntry[]> {
  const res = (await c.retry('list VMs', () => c.api.cluster.resources.$get({ type: 'vm' }))) as Record<
    string,
    unknown
  >[];
  const out: VmEntry[] = [];
  for (const r of res) {
    if (r['type'] !== 'qemu') continue;
    const e: VmEntry = {
      vmid: Number(r['vmid']),
      node: String(r['node']),
      name: r['name'] as string | undefined,
      status: String(r['status'] ?? 'unknown'),
      template: Number(r['template'] ?? 0) === 1,
      tags: String(r['tags'] ?? ''),
      lock: r['lock'] as string | undefined,
    };
    if (!e.name || e.status === 'unknown') {
      const cfg = await getConfig(c, e.node, e.vmid).catch(() => undefined);
      if (cfg) {
        e.name = cfg['name'] as string | undefined;
        e.tags = String(cfg['tags'] ?? e.tags);
        e.template = Number(cfg['template'] ?? 0) === 1;
        e.lock = cfg['lock'] as string | undefined;
      }
      const cur = await currentStatus(c, e.node, e.vmid).catch(() => undefined);
      if (cur) e.status = cur.status;
    }
    out.push(e);
  }
  return out;
}

export async function getConfig(c: PveClient, node: string, vmid: number): Promise<Record<string, unknown>> {
  return (await c.retry(`read config of VM ${vmid}`, () => c.api.nodes.$(node).qemu.$(vmid).config.$get())) as Record<
    string,
    unknown
  >;
}

export async function currentStatus(
  c: PveClient,
  node: string,
  vmid: number,
): Promise<{ status: string; lock?: string; name?: string }> {
  return (await c.retry(`status of VM ${vmid}`, () => c.api.nodes.$(node).qemu.$(vmid).status.current.$get())) as {
    status: string;
    lock?: string;
    name?: string;
  };
}

export function isMissing(e: unknown): boolean {
  return e instanceof PveApiError && /does not exist|unable to find configuration file/.test(e.all);
}

/** Wait until the VM's config carries no `lock` (a clone in progress). Returns the config. */
export async function waitUnlocked(
  c: PveClient,
  node: string,
  vmid: number,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const cfg = await getConfig(c, node, vmid);
    if (!cfg['lock']) return cfg;
    if (Date.now() > deadline)
      throw new ProviderError(
        `VM ${vmid} is still locked (${String(cfg['lock'])}) after ${Math.round(timeoutMs / 1000)} s`,
      );
    await sleep(c.opts.pollMs);
  }
}

/** Run an async (UPID) operation with retries; `done` says whether a given failure means the goal is already reached. */
export async function runTask(
  c: PveClient,
  what: string,
  call: () => Promise<unknown>,
  done?: (text: string) => boolean,
): Promise<void> {
  await c.retry(what, async () => {
    try {
      const upid = await call();
      if (typeof upid === 'string' && upid.startsWith('UPID:')) await c.waitTask(upid);
    } catch (e) {
      const text = e instanceof PveApiError ? e.all : e instanceof PveTaskError ? e.exitstatus : '';
      if (done && text && done(text)) return;
      throw e;
    }
  });
}

export async function startVm(c: PveClient, node: string, vmid: number): Promise<void> {
  await runTask(
    c,
    `start VM ${vmid}`,
    () => c.api.nodes.$(node).qemu.$(vmid).status.start.$post({}),
    (t) => /already running/.test(t),
  );
}

/** Clean shutdown (the guest agent or ACPI), forced stop after timeoutSec. */
export async function shutdownVm(c: PveClient, node: string, vmid: number, timeoutSec = 120): Promise<void> {
  await runTask(
    c,
    `shut down VM ${vmid}`,
    () => c.api.nodes.$(node).qemu.$(vmid).status.shutdown.$post({ forceStop: true, timeout: timeoutSec }),
    (t) => /not running/.test(t),
  );
}

export async function stopVm(c: PveClient, node: string, vmid: number): Promise<void> {
  await runTask(
    c,
    `stop VM ${vmid}`,
    () => c.api.nodes.$(node).qemu.$(vmid).status.stop.$post({}),
    (t) => /not running/.test(t),
  );
}

export async function deleteVm(c: PveClient, node: string, vmid: number): Promise<void> {
  await runTask(
    c,
    `delete VM ${vmid}`,
    () => c.api.nodes.$(node).qemu.$(vmid).$delete({ purge: true, 'destroy-unreferenced-disks': true }),
    (t) => /does not exist|unable to find configuration file/.test(t),
  );
}
