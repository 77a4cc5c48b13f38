// The engine on real lab hosts: five Debian 12 machines, a small playbook (a package, a file from a template,
// a service that depends on the file), idempotence, an exact change and restart, and a clean teardown.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { sidecarPath } from '../../src/inventory/types.js';
import { connect, expectOk, inventory, pgha, sh, tempInventory } from './helpers.js';
import { labResourcesLeft } from '../../src/providers/lab/index.js';
import { labHost } from '../../src/providers/lab/machine.js';
import { SshTransport } from '../../src/engine/transport.js';
import { KnownHosts } from '../../src/engine/knownhosts.js';

const inv = tempInventory('base.yml');
let conns: Map<string, SshTransport> | undefined;

afterAll(async () => {
  for (const t of conns?.values() ?? []) await t.close();
  await pgha(['destroy', '-i', inv, '--yes']);
});

async function invocation(t: SshTransport, unit: string): Promise<string> {
  return sh(t, `systemctl show -p InvocationID --value ${unit}`);
}

describe('engine on a 5-host lab', () => {
  it('boots five hosts that answer over SSH', async () => {
    const r = await pgha(['lab', 'up', '-i', inv]);
    expectOk(r, 'pgha lab up');
    console.log(`lab up (5 hosts): ${r.seconds.toFixed(1)} s`);
    conns = await connect(await inventory(inv));
    for (const [name, t] of conns) expect(await sh(t, 'hostname')).toBe(name);
  });

  it('converges the demo playbook, then a re-run changes and restarts nothing', async () => {
    const first = await pgha(['run', 'demo', '-i', inv]);
    expectOk(first, 'pgha run demo');
    expect(first.json.totals.changes).toBeGreaterThanOrEqual(5 * 4);
    for (const [name, t] of conns!) {
      expect(await sh(t, 'cat /etc/pgha-demo/greeting')).toBe(
        `hello from ${name} (${t.host.address}), cluster e2e-base`,
      );
      expect(await sh(t, 'systemctl is-active pgha-demo')).toBe('active');
      // The service really serves the file on its port, read from another host.
      const other = [...conns!.values()].find((x) => x !== t)!;
      expect(
        await sh(
          other,
          `python3 -c "import socket;s=socket.create_connection(('${t.host.address}',8080),5);print(s.recv(200).decode().strip())"`,
        ),
      ).toContain(`from ${name}`);
    }
    const before = new Map<string, string>();
    for (const [name, t] of conns!) before.set(name, await invocation(t, 'pgha-demo'));

    const second = await pgha(['run', 'demo', '-i', inv]);
    expectOk(second, 'pgha run demo (again)');
    expect(second.json.totals.changes).toBe(0);
    expect(second.json.totals.restarted).toEqual([]);
    console.log(
      `no-op re-run on 5 hosts: ${second.json.seconds} s, round trips per host ${JSON.stringify(second.json.roundTrips)}`,
    );
    for (const n of Object.values(second.json.roundTrips) as number[]) expect(n).toBeLessThanOrEqual(3);
    for (const [name, t] of conns!) expect(await invocation(t, 'pgha-demo')).toBe(before.get(name));
  });

  it('a changed template input changes exactly that file and restarts exactly that service', async () => {
    const sshdBefore = new Map<string, string>();
    const demoBefore = new Map<string, string>();
    for (const [name, t] of conns!) {
      sshdBefore.set(name, await invocation(t, 'ssh'));
      demoBefore.set(name, await invocation(t, 'pgha-demo'));
    }
    writeFileSync(inv, readFileSync(inv, 'utf8').replace('demo_greeting: hello', 'demo_greeting: bonjour'));
    const r = await pgha(['run', 'demo', '-i', inv]);
    expectOk(r, 'pgha run demo (changed input)');
    expect(r.json.changes.map((c: { host: string; summary: string }) => c.summary)).toEqual(
      Array(5).fill('update /etc/pgha-demo/greeting'),
    );
    expect([...r.json.totals.restarted].sort()).toEqual([
      'lb1:pgha-demo',
      'lb2:pgha-demo',
      'pg1:pgha-demo',
      'pg2:pgha-demo',
      'pg3:pgha-demo',
    ]);
    expect(r.json.totals.reloaded).toEqual([]);
    for (const [name, t] of conns!) {
      expect(await sh(t, 'cat /etc/pgha-demo/greeting')).toMatch(/^bonjour from /);
      expect(await invocation(t, 'pgha-demo')).not.toBe(demoBefore.get(name));
      expect(await invocation(t, 'ssh')).toBe(sshdBefore.get(name));
      // The previous version is kept.
      expect(await sh(t, 'cat /var/lib/pgha/backup/etc/pgha-demo/greeting')).toMatch(/^hello from /);
    }
  });

  it('plan shows a diff and changes nothing', async () => {
    writeFileSync(inv, readFileSync(inv, 'utf8').replace('demo_greeting: bonjour', 'demo_greeting: hallo'));
    const r = await pgha(['run', 'demo', '-i', inv, '--check', '--diff']);
    expectOk(r, 'pgha run demo --check --diff');
    expect(r.json.changes).toHaveLength(5);
    expect(r.json.changes[0].diff).toMatch(/-bonjour from .*\n\+hallo from /);
    for (const t of conns!.values()) expect(await sh(t, 'cat /etc/pgha-demo/greeting')).toMatch(/^bonjour from /);
  });

  it("a second run while another holds the lock is refused; a dead holder's lock is taken over", async () => {
    const lock = sidecarPath(await inventory(inv), 'lock');
    writeFileSync(lock, JSON.stringify({ pid: process.pid, what: 'up', since: new Date().toISOString() }));
    const holder = spawn('flock', ['-xF', lock, 'sh', '-c', 'echo locked; exec sleep 60'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise((res) => holder.stdout!.once('data', res));
    const refused = await pgha(['run', 'demo', '-i', inv]);
    expect(refused.code).toBe(2);
    expect(refused.json.error.message).toMatch(new RegExp(`another pgha run \\(pid ${process.pid}, "up"`));
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    const r = await pgha(['run', 'demo', '-i', inv, '--check']);
    expectOk(r, 'pgha run demo after the holder died');
  });

  it('destroy --limit of one lab host removes only that host; lab up --limit brings it back', async () => {
    const lab = await inventory(inv);
    // Without a terminal and without --yes: refused, and the list names exactly the limited host.
    const member = await pgha(['destroy', '-i', inv, '--limit', 'pg3']);
    expect(member.code).toBe(2);
    expect(member.json.error.message).toMatch(/pg3: delete machine \S+ and its disk/);
    expect(member.json.error.message).toMatch(/pg3: its copy of the database \(PostgreSQL member of e2e-base\)/);
    expect(member.json.error.message).not.toMatch(/(pg1|pg2|lb1|lb2|lab):/);
    const rebuild = await pgha(['rebuild', '-i', inv, '--limit', 'lb2']);
    expect(rebuild.code).toBe(2);
    expect(rebuild.json.error.message).toMatch(/^pgha rebuild asks for confirmation/);
    expect(rebuild.json.error.message).toMatch(/lb2: delete machine \S+ and its disk/);
    expect(rebuild.json.error.message).not.toMatch(/(pg1|pg2|pg3|lb1|lab):/);
    await conns!.get('lb2')!.close();
    const r = await pgha(['destroy', '-i', inv, '--limit', 'lb2', '--yes']);
    expectOk(r, 'pgha destroy --limit lb2');
    expect(new Set(r.json.changes.map((c: { host: string }) => c.host))).toEqual(new Set(['lb2']));
    expect(existsSync(labHost(lab, 'lb2').paths.dir)).toBe(false);
    const left = await labResourcesLeft(lab);
    expect(left.filter((l) => l.includes('e2e-base-lb2'))).toEqual([]);
    expect(left.some((l) => l.startsWith('bridge '))).toBe(true);
    for (const n of ['lb1', 'pg1', 'pg2', 'pg3']) expect(await sh(conns!.get(n)!, 'hostname')).toBe(n);

    const back = await pgha(['lab', 'up', '-i', inv, '--limit', 'lb2']);
    expectOk(back, 'pgha lab up --limit lb2');
    expect(back.json.changes.filter((c: { host: string }) => c.host !== 'lab')).toEqual([
      expect.objectContaining({ host: 'lb2', action: 'create' }),
    ]);
    const lb2 = await SshTransport.connect(
      lab.hosts.find((h) => h.name === 'lb2')!,
      new KnownHosts(sidecarPath(lab, 'known_hosts')),
    );
    conns!.set('lb2', lb2);
    expect(await sh(lb2, 'hostname')).toBe('lb2');
  });

  it('destroy without a terminal and without --yes refuses, lists what would go and leaves every machine running', async () => {
    const refused = await pgha(['destroy', '-i', inv]);
    expect(refused.code).toBe(2);
    expect(refused.json.error.message).toMatch(/no terminal to ask on; nothing was changed/);
    expect(refused.json.error.message).toMatch(/pg1: delete machine \S+ and its disk/);
    expect(refused.json.error.message).toMatch(/every copy of the database of cluster e2e-base/);
    for (const t of conns!.values()) expect(await sh(t, 'echo up')).toBe('up');
  });

  it('destroy removes every machine and leaves nothing behind', async () => {
    for (const t of conns!.values()) await t.close();
    conns = undefined;
    const r = await pgha(['destroy', '-i', inv, '--yes']);
    expectOk(r, 'pgha destroy');
    expect(await labResourcesLeft(await inventory(inv))).toEqual([]);
    const again = await pgha(['destroy', '-i', inv, '--yes']);
    expectOk(again, 'pgha destroy (again)');
  });
});
