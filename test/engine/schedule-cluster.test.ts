// The cluster playbook's graph with the components' declared needs: a fake runner finishes every unit at once
// except those of held steps, and the test looks at what could run while a held step is still running.
import { describe, expect, it } from 'vitest';
import { Schedule, type StepRunner } from '../../src/engine/schedule.js';
import type { HostStepResult } from '../../src/engine/runner.js';
import type { Step } from '../../src/engine/types.js';
import type { Host, Inventory } from '../../src/inventory/types.js';
import { findPlaybook, loadPlaybook, resolvePlays } from '../../src/playbook/load.js';
import { components } from '../../src/components/index.js';
import { makeInventory } from '../components/helpers.js';

class HoldingRunner implements StepRunner {
  readonly started: string[] = [];
  private held: (() => void)[] = [];
  constructor(private readonly hold: Set<string>) {}
  private async unit(step: Step, where: string) {
    this.started.push(`${step.id}@${where}`);
    if (this.hold.has(step.id)) await new Promise<void>((r) => this.held.push(r));
  }
  async runHost(step: Step, h: Host): Promise<HostStepResult> {
    await this.unit(step, h.name);
    return { host: h.name, step: step.id, changes: [], restarted: [], reloaded: [], reason: 'ok' };
  }
  async runStep(step: Step, hs: Host[]): Promise<HostStepResult[]> {
    await this.unit(step, '*');
    return hs.map((h) => ({ host: h.name, step: step.id, changes: [], restarted: [], reloaded: [], reason: 'ok' }));
  }
  /** Lets every held unit finish and holds nothing more. */
  releaseAll() {
    this.hold.clear();
    this.held.splice(0).forEach((r) => r());
  }
  ran(id: string): boolean {
    return this.started.some((k) => k.startsWith(`${id}@`));
  }
}

const settle = async () => {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setTimeout(r, 0));
};

async function runUntilHeld(inv0: Inventory, hold: string[]) {
  // The roles the playbook names and this inventory has no host of: empty groups.
  const inv = { ...inv0, groups: { backup: [], client: [], monitor: [], ...inv0.groups } };
  const pb = loadPlaybook(findPlaybook('cluster'), components);
  const runner = new HoldingRunner(new Set(hold));
  const sched = new Schedule(runner, resolvePlays(pb, inv, components, inv.hosts));
  const done = sched.run();
  await settle();
  return { runner, sched, done };
}

/** etcd on hosts of its own (e1..e3), PostgreSQL on pg1..pg3, balancers lb1, lb2. */
function separateEtcd(): Inventory {
  const inv = makeInventory();
  const etcd = ['e1', 'e2', 'e3'].map((name, i) => ({
    ...inv.hosts[0]!,
    name,
    address: `10.77.0.${31 + i}`,
    roles: ['etcd' as const],
  }));
  const pg = inv.hosts.filter((h) => h.name.startsWith('pg')).map((h) => ({ ...h, roles: ['postgres' as const] }));
  const lbs = inv.hosts.filter((h) => h.name.startsWith('lb'));
  const hosts = [...etcd, ...pg, ...lbs];
  return {
    ...inv,
    hosts,
    groups: {
      all: hosts.map((h) => h.name),
      etcd: etcd.map((h) => h.name),
      postgres: pg.map((h) => h.name),
      haproxy: lbs.map((h) => h.name),
    },
  };
}

describe('the cluster playbook as a graph', () => {
  it('installs HAProxy and keepalived while PostgreSQL installs; configures HAProxy after patroni.tls', async () => {
    const { runner, done } = await runUntilHeld(makeInventory(), ['patroni.install']);
    expect(runner.ran('haproxy.install')).toBe(true);
    expect(runner.ran('keepalived.install')).toBe(true);
    expect(runner.ran('haproxy.config')).toBe(false); // a running member's TLS switch rewrites its checks first
    runner.releaseAll();
    await done;
  });

  it('balancers go on once the firewall is there, without waiting for etcd or PostgreSQL', async () => {
    const { runner, done } = await runUntilHeld(makeInventory(), ['etcd.install']);
    expect(runner.ran('haproxy.install')).toBe(true);
    expect(runner.ran('keepalived.install')).toBe(true);
    expect(runner.ran('haproxy.config')).toBe(false); // after patroni.tls
    expect(runner.ran('patroni.install')).toBe(false); // same hosts as etcd here: after it
    runner.releaseAll();
    await done;
  });

  it('HAProxy and keepalived are configured while Patroni starts; the backend check, access and verify wait', async () => {
    const { runner, done } = await runUntilHeld(makeInventory(), ['patroni.config']);
    expect(runner.ran('haproxy.config')).toBe(true);
    expect(runner.ran('keepalived.config')).toBe(true);
    for (const id of ['haproxy.backends', 'access.roles', 'pgbouncer.config', 'backup.stanza', 'verify.cluster'])
      expect(runner.ran(id), id).toBe(false);
    runner.releaseAll();
    await done;
    expect(runner.started.at(-1)).toBe('verify.cluster@*');
  });

  it('with etcd on hosts of its own, Patroni waits for etcd formed there', async () => {
    const { runner, done } = await runUntilHeld(separateEtcd(), ['etcd.start']);
    expect(runner.ran('haproxy.install')).toBe(true);
    expect(runner.ran('backup.install')).toBe(false); // after etcd.patroni-dcs on the members, which needs etcd
    for (const id of ['etcd.patroni-dcs', 'patroni.tls', 'patroni.config']) expect(runner.ran(id), id).toBe(false);
    runner.releaseAll();
    await done;
    const at = (k: string) => runner.started.indexOf(k);
    expect(at('patroni.config@*')).toBeGreaterThan(at('etcd.finalize@e3'));
  });

  it('keepalived waits for HAProxy configured on the balancers', async () => {
    const { runner, done } = await runUntilHeld(makeInventory(), ['haproxy.config']);
    expect(runner.ran('keepalived.install')).toBe(true);
    expect(runner.ran('keepalived.config')).toBe(false);
    runner.releaseAll();
    await done;
  });

  it('the firewall comes first on every host', async () => {
    const { runner, done } = await runUntilHeld(makeInventory(), ['firewall.config']);
    expect(runner.started).toEqual(['firewall.config@*']);
    runner.releaseAll();
    await done;
  });
});
