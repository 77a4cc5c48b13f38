// Removing a member against fakes: a fake Patroni REST API on loopback, fake etcdctl and systemctl on PATH. The
// refusals change nothing; a removal runs its actions in order; dropped members are named in plan's words.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeInventory, groupCtx } from './helpers.js';
import { pointAtFake, startFakePatroni, type FakePatroni } from './fake-patroni.js';
import { fakeBin, FakeBinTransport } from '../engine/fake-bin.js';
import { removeMember, remove } from '../../src/cli/commands/remove.js';
import { droppedLines, droppedMembers, readView } from '../../src/components/members/view.js';
import { memberKey, withoutHosts } from '../../src/components/members/remove.js';
import { UserError } from '../../src/util/errors.js';
import { exitCodeOf } from '../../src/cli/output.js';
import type { Transport } from '../../src/engine/types.js';
import type { ConfirmIO } from '../../src/cli/confirm.js';

/** These tests describe the plain-http cluster (tls_enabled: false); etcd-tls.test.ts covers TLS. */
const PLAIN = { tls_enabled: false };

const IDS: Record<string, string> = {
  pg1: '10000000000000001',
  pg2: '10000000000000002',
  pg3: '10000000000000003',
  pg4: '10000000000000004',
};
const HEX: Record<string, string> = Object.fromEntries(
  Object.entries(IDS).map(([k, v]) => [k, BigInt(v).toString(16)]),
);

/** etcd 3.4's `member list -w json` for these members (uint64 ids as JSON numbers). */
function memberList(names: string[]): string {
  const m = names.map(
    (n) =>
      `{"ID":${IDS[n]},"name":"${n}","peerURLs":["http://10.77.0.${10 + Number(n.slice(2))}:2380"],"clientURLs":["http://10.77.0.${10 + Number(n.slice(2))}:2379"]}`,
  );
  return `{"header":{"cluster_id":17237436991929493444,"member_id":${IDS[names[0]!]},"raft_term":2},"members":[${m.join(',')}]}`;
}

function health(names: string[], unhealthy: string[] = []): string {
  return JSON.stringify(
    names.map((n) => ({
      endpoint: `http://10.77.0.${10 + Number(n.slice(2))}:2379`,
      health: !unhealthy.includes(n),
      took: '1ms',
      ...(unhealthy.includes(n) ? { error: 'context deadline exceeded' } : {}),
    })),
  );
}

const ETCDCTL = `case "$*" in
  *"member list"*) cat "$FAKE/list.json" ;;
  *"endpoint health"*) cat "$FAKE/health.json" ;;
  *) echo ok ;;
esac`;

let fake: FakePatroni | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

interface Lab {
  inv: ReturnType<typeof makeInventory>;
  transports: Map<string, Transport>;
  calls(): string[];
  dir: string;
  dataDir: string;
}

/** pg1 leader, pg2 and pg3 replicas (+ extra Patroni members), etcd on pg1-3; every host a fake transport. */
async function lab(o: { unhealthy?: string[]; etcd?: string[]; patroniExtra?: string[] } = {}): Promise<Lab> {
  const names = ['pg1', 'pg2', 'pg3', ...(o.patroniExtra ?? [])];
  fake = await startFakePatroni(
    names.map((n) => ({ name: n, role: n === 'pg1' ? 'leader' : 'replica', pendingRestart: false })),
  );
  const inv = makeInventory(PLAIN);
  const { fake: dir, calls } = fakeBin({ etcdctl: ETCDCTL, systemctl: 'exit 0' });
  const etcd = o.etcd ?? ['pg1', 'pg2', 'pg3'];
  writeFileSync(join(dir, 'list.json'), memberList(etcd));
  writeFileSync(join(dir, 'health.json'), health(etcd, o.unhealthy));
  const dataDir = join(dir, 'etcd-data');
  mkdirSync(join(dataDir, 'member', 'snap'), { recursive: true });
  for (const h of inv.hosts) {
    const m = fake.members.find((x) => x.name === h.name);
    if (m) pointAtFake(h, m.port);
    h.vars = { ...h.vars, etcd_data_dir: dataDir };
  }
  const transports = new Map<string, Transport>(inv.hosts.map((h) => [h.name, new FakeBinTransport(dir, h)]));
  return { inv, transports, calls, dir, dataDir };
}

/** The calls that change something (etcdctl's reads and systemctl's `cat` only look). */
function changing(calls: string[]): string[] {
  return calls.filter((c) => !/member list|endpoint health|^systemctl cat /.test(c));
}

const noTerminal: ConfirmIO = {
  interactive: false,
  write: () => undefined,
  ask: async () => '',
};

function options(l: Lab, name: string, extra: { yes?: boolean; io?: ConfirmIO } = {}) {
  return {
    inv: l.inv,
    host: l.inv.hosts.find((h) => h.name === name)!,
    secrets: {},
    transports: l.transports,
    events: {},
    yes: extra.yes ?? true,
    io: extra.io ?? noTerminal,
    log: () => undefined,
    reloadBalancers: async (b: { name: string }[]) =>
      appendFileSync(join(l.dir, 'calls'), `reload ${b.map((x) => x.name).join(',')}\n`),
    deleteMachine: async () => appendFileSync(join(l.dir, 'calls'), `delete-machine ${name}\n`),
  };
}

describe('pgha remove', () => {
  it('takes a replica out in order: HAProxy, Patroni, its member key, etcd member remove, etcd stop and wipe, machine', async () => {
    const l = await lab();
    const r = await removeMember(options(l, 'pg3'));
    expect(changing(l.calls())).toEqual([
      'reload lb1,lb2',
      'systemctl disable --now patroni.service',
      `etcdctl --endpoints=http://127.0.0.1:2379 --dial-timeout=2s --command-timeout=4s del ${memberKey('/service/', 'demo', 'pg3')}`,
      `etcdctl --endpoints=http://127.0.0.1:2379 --dial-timeout=2s --command-timeout=4s member remove ${HEX.pg3}`,
      'systemctl disable --now etcd.service',
      'delete-machine pg3',
    ]);
    expect(memberKey('/service/', 'demo', 'pg3')).toBe('/service/demo/members/pg3');
    expect(readdirSync(l.dataDir)).toEqual([]);
    expect(r.notes.join('\n')).toMatch(/left with 2 members, an even count/);
  });

  it('has a synchronous standby hand its role over (nosync, another one picked) before Patroni stops there', async () => {
    const l = await lab();
    const pg3 = fake!.members.find((m) => m.name === 'pg3')!;
    const pg2 = fake!.members.find((m) => m.name === 'pg2')!;
    (pg3 as { role: string }).role = 'sync_standby';
    const config = join(l.dir, 'config.yml');
    writeFileSync(config, 'tags:\n  nofailover: false\n  nosync: false\n');
    // The leader picks pg2 a little after the tag is read (as on its next loop).
    const flip = setInterval(() => {
      if (l.calls().some((c) => c.includes('--signal=HUP'))) {
        (pg3 as { role: string }).role = 'replica';
        (pg2 as { role: string }).role = 'sync_standby';
        clearInterval(flip);
      }
    }, 200);
    const r = await removeMember({ ...options(l, 'pg3'), patroniConfig: config, syncTimeoutMs: 20_000 });
    clearInterval(flip);
    expect(r.actions.map((a) => a.id)).toEqual([
      'haproxy',
      'patroni-nosync',
      'patroni-stop',
      'patroni-key',
      'etcd-member',
      'etcd-stop',
      'machine',
    ]);
    expect(readFileSync(config, 'utf8')).toContain('  nosync: true\n');
    expect(changing(l.calls()).slice(0, 3)).toEqual([
      'reload lb1,lb2',
      'systemctl kill --kill-who=main --signal=HUP patroni.service',
      'systemctl disable --now patroni.service',
    ]);
  });

  it('stops before Patroni when no other synchronous standby is picked in time', async () => {
    const l = await lab();
    (fake!.members.find((m) => m.name === 'pg3') as { role: string }).role = 'sync_standby';
    const config = join(l.dir, 'config.yml');
    writeFileSync(config, 'tags:\n  nosync: false\n');
    const e = await removeMember({ ...options(l, 'pg3'), patroniConfig: config, syncTimeoutMs: 1500 }).catch(
      (x: unknown) => x,
    );
    expect(String((e as Error).message)).toMatch(/did not pick another synchronous standby/);
    expect(changing(l.calls()).some((c) => c.includes('disable'))).toBe(false);
  });

  it('refuses the leader before any change, pointing at switchover', async () => {
    const l = await lab();
    const e = await removeMember(options(l, 'pg1')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UserError);
    expect(String((e as Error).message)).toMatch(/pg1 is the current leader/);
    expect((e as UserError).hint).toMatch(/pgha switchover/);
    expect(exitCodeOf(e)).toBe(2);
    expect(changing(l.calls())).toEqual([]);
    expect(existsSync(join(l.dataDir, 'member'))).toBe(true);
  });

  it('refuses when etcd would lose its quorum (a healthy member out while another is down)', async () => {
    const l = await lab({ unhealthy: ['pg2'] });
    const e = await removeMember(options(l, 'pg3')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UserError);
    expect(String((e as Error).message)).toMatch(/would break etcd's quorum: 2 of 3 members are healthy/);
    expect(changing(l.calls())).toEqual([]);
  });

  it('removes an unhealthy etcd member when the others keep the quorum', async () => {
    const l = await lab({ unhealthy: ['pg3'] });
    await removeMember(options(l, 'pg3'));
    expect(changing(l.calls())).toContain(
      `etcdctl --endpoints=http://127.0.0.1:2379 --dial-timeout=2s --command-timeout=4s member remove ${HEX.pg3}`,
    );
  });

  it('asks for confirmation and, without a terminal, refuses before any change', async () => {
    const l = await lab();
    const e = await removeMember(options(l, 'pg3', { yes: false })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UserError);
    expect(String((e as Error).message)).toMatch(/no terminal to ask on; nothing was changed/);
    expect(String((e as Error).message)).toMatch(/etcdctl member remove/);
    expect(String((e as Error).message)).toMatch(/an even count/);
    expect(changing(l.calls())).toEqual([]);
  });

  it('refuses --limit (exit 2) before reading anything', async () => {
    const e = await remove(
      { inventory: '/nonexistent/inv.yml', limit: 'pg3', json: false, verbose: 0 },
      {} as never,
      'pg3',
      { yes: true },
    ).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UserError);
    expect(String((e as Error).message)).toMatch(/no --limit/);
    expect(exitCodeOf(e)).toBe(2);
  });

  it('refuses a host the inventory does not name (exit 2), with the near name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-remove-'));
    const file = join(dir, 'inv.yml');
    writeFileSync(
      file,
      [
        'cluster: demo',
        'provider: static',
        'network: {subnet: 10.77.0.0/24, vip: 10.77.0.100}',
        'hosts:',
        '  lb1: {address: 10.77.0.21, roles: [haproxy]}',
        '  pg1: {address: 10.77.0.11, roles: [postgres, etcd]}',
        '  pg2: {address: 10.77.0.12, roles: [postgres, etcd]}',
        '  pg3: {address: 10.77.0.13, roles: [postgres, etcd]}',
        '',
      ].join('\n'),
    );
    const out = { info: () => undefined, exec: undefined, events: {} } as never;
    const e = await remove({ inventory: file, json: false, verbose: 0 }, out, 'pg33', { yes: true }).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(UserError);
    expect(String((e as Error).message)).toMatch(/no host named 'pg33'.*did you mean 'pg3'/);
    expect(exitCodeOf(e)).toBe(2);
  });
});

describe('members the inventory no longer names', () => {
  it('are found in Patroni and etcd and listed as plan says them', async () => {
    const l = await lab({ patroniExtra: ['pg4'], etcd: ['pg1', 'pg2', 'pg3', 'pg4'] });
    const view = await readView(groupCtx(l.inv, l.transports));
    const dropped = droppedMembers(l.inv, view);
    expect(dropped.map((d) => d.name)).toEqual(['pg4']);
    expect(droppedLines(dropped, false, true)).toEqual([
      'members that are not in the inventory any more (pgha up --prune removes them; plain up leaves them):',
      `  pg4 (127.0.0.1): Patroni member, etcd member ${HEX.pg4}`,
    ]);
    expect(droppedLines(dropped, true, true)[1]).toBe(
      `  would remove pg4 (127.0.0.1): Patroni member, etcd member ${HEX.pg4}`,
    );
    expect(droppedLines(dropped, true, true)[0]).toMatch(/would remove members .* \(up --prune\)/);
    expect(droppedMembers(withoutHosts(l.inv, ['pg3']), view).map((d) => d.name)).toEqual(['pg3', 'pg4']);
  });

  it('are none when every member is in the inventory', async () => {
    const l = await lab();
    const view = await readView(groupCtx(l.inv, l.transports));
    expect(view.etcdFrom?.name).toBe('pg1');
    expect(view.etcdHealthy).toEqual(['pg1', 'pg2', 'pg3']);
    expect(droppedMembers(l.inv, view)).toEqual([]);
    expect(droppedLines([], false, true)).toEqual([]);
  });
});
