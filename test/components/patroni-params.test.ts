// PostgreSQL parameters at two levels: the top-level map in the DCS (PATCH /config, leftovers removed with null),
// a group's or host's map in that host's own config.yml. Programs run against a fake Patroni REST API.
import { parse } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { configScript, patroniConfigFile, patroniSteps } from '../../src/components/patroni/steps.js';
import { withRole } from '../../src/components/common.js';
import type { Transport } from '../../src/engine/types.js';
import type { Inventory } from '../../src/inventory/types.js';
import { LocalTransport, fakeHost } from '../engine/local-transport.js';
import { ctxFor, stepById } from './helpers.js';
import { testRunner } from './helpers.js';
import { startFakePatroni, type FakePatroni, pointAtFake, fakeApi } from './fake-patroni.js';
import { load } from '../inventory/helpers.js';

const sh = (script: string, stdin = '') => new LocalTransport(fakeHost()).exec(script, { stdin });
const CRED = JSON.stringify({ user: 'patroni', password: 'pw' });

let fake: FakePatroni | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const INVENTORY = `cluster: demo
provider: static
network: {subnet: 10.77.0.0/24, vip: 10.77.0.100}
vars:
  postgres_parameters: {max_connections: 300, work_mem: 4MB}
  tls_enabled: false # the parameters below are those of the inventory alone (no ssl_*)
groups:
  rack-b:
    vars:
      postgres_parameters: {shared_buffers: 2GB, work_mem: 8MB, max_connections: 300}
hosts:
  lb1: {address: 10.77.0.21, roles: [haproxy]}
  lb2: {address: 10.77.0.22, roles: [haproxy]}
  pg1: {address: 10.77.0.11, roles: [postgres, etcd]}
  pg2: {address: 10.77.0.12, roles: [postgres, etcd], groups: [rack-b]}
  pg3:
    address: 10.77.0.13
    roles: [postgres, etcd]
    groups: [rack-b]
    vars: {postgres_parameters: {work_mem: 16MB}}
`;

function configOf(inv: Inventory, host: string): Record<string, any> {
  return parse(patroniConfigFile(ctxFor(inv, host)).content, { version: '1.1' }) as Record<string, any>;
}

describe("parameters of a group or a host go into that host's config.yml, not into the DCS", () => {
  const inv = load(INVENTORY);

  it('renders local parameters under postgresql.parameters; host over group; equal values stay in the DCS', () => {
    expect(configOf(inv, 'pg1').postgresql.parameters).toEqual({ unix_socket_directories: '/var/run/postgresql' });
    expect(configOf(inv, 'pg2').postgresql.parameters).toEqual({
      unix_socket_directories: '/var/run/postgresql',
      shared_buffers: '2GB',
      work_mem: '8MB',
    });
    expect(configOf(inv, 'pg3').postgresql.parameters).toEqual({
      unix_socket_directories: '/var/run/postgresql',
      shared_buffers: '2GB',
      work_mem: '16MB',
    });
  });

  it('bootstrap.dcs and PATCH /config carry the cluster-wide map only, the same on every member', () => {
    const dcs = ['pg1', 'pg2', 'pg3'].map((h) => configOf(inv, h).bootstrap.dcs.postgresql.parameters);
    expect(dcs[0]).toMatchObject({ max_connections: 300, work_mem: '4MB', shared_buffers: '128MB' });
    expect(dcs[1]).toEqual(dcs[0]);
    expect(dcs[2]).toEqual(dcs[0]);
    const dcsStep = stepById(patroniSteps, 'patroni.dcs');
    const scripts = ['pg1', 'pg2', 'pg3'].map((h) => {
      const ctx = { ...ctxFor(inv, h), hosts: inv.hosts.filter((x) => x.name === h || x.roles.includes('haproxy')) };
      const [r] = dcsStep.resources(ctx, {}) as { script: string }[];
      // Each member talks to its own REST API address; the rest of the program is the same.
      return r!.script.replaceAll(ctx.host.address, 'ADDRESS');
    });
    expect(scripts[0]).toContain('work_mem');
    expect(scripts[0]).not.toContain('2GB');
    expect(new Set(scripts).size).toBe(1);
  });
});

describe('templates/patroni/dcs-config.py.hbs: postgresql.parameters is the whole map', () => {
  const want = { ttl: 8, postgresql: { parameters: { max_connections: 200, shared_buffers: '256MB' } } };

  async function start() {
    fake = await startFakePatroni([{ name: 'pg1', role: 'leader', pendingRestart: false }]);
    // Keys pgha never sets (pause, slots, use_slots) stay; the parameters beyond the inventory's go.
    fake.config = {
      ttl: 30,
      pause: true,
      slots: { keep: { type: 'physical' } },
      postgresql: {
        use_slots: true,
        parameters: {
          max_connections: 100,
          work_mem: '4MB',
          ssl_passphrase_command: 'echo s3cret',
          Effective_Cache_Size: '1GB',
        },
      },
    };
    return fake.members[0]!.port;
  }

  it('prints every difference, sends null for the leftovers only, and finds nothing left afterwards', async () => {
    const port = await start();
    const check = await sh(configScript(fakeApi(port), want, false));
    expect(check.code).toBe(1);
    expect(check.stdout.trim().split('\n')).toEqual([
      'ttl 30 -> 8',
      'max_connections 100 -> 200',
      'shared_buffers = 256MB (added)',
      'work_mem removed (was 4MB)',
      'ssl_passphrase_command removed (was (secret))',
      'Effective_Cache_Size removed (was 1GB)',
    ]);
    const r = await sh(configScript(fakeApi(port), want, true), CRED);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fake!.config).toEqual({
      ttl: 8,
      pause: true,
      slots: { keep: { type: 'physical' } },
      postgresql: { use_slots: true, parameters: { max_connections: 200, shared_buffers: '256MB' } },
    });
    const again = await sh(configScript(fakeApi(port), want, false));
    expect([again.code, again.stdout]).toEqual([0, '']);
    expect(fake!.calls.map((c) => c.method)).toEqual(['GET', 'GET', 'PATCH', 'GET']);
  });

  it('a leftover parameter alone is a difference; values compare as text, case-insensitive', async () => {
    const port = await start();
    fake!.config = { ttl: '8', postgresql: { parameters: { max_connections: '200', shared_buffers: '256mb', x: 1 } } };
    const check = await sh(configScript(fakeApi(port), want, false));
    expect([check.code, check.stdout]).toEqual([1, 'x removed (was 1)\n']);
    delete fake!.config.postgresql.parameters.x;
    expect((await sh(configScript(fakeApi(port), want, false))).code).toBe(0);
  });

  it('a wanted null removes what the DCS holds there, and is no difference when it holds nothing', async () => {
    const port = await start();
    const off = { ...want, postgresql: { ...want.postgresql, recovery_conf: { restore_command: null } } };
    fake!.config = {
      ...structuredClone(want),
      postgresql: { ...structuredClone(want.postgresql), recovery_conf: { restore_command: 'pgbackrest archive-get' } },
    };
    const check = await sh(configScript(fakeApi(port), off, false));
    expect([check.code, check.stdout]).toEqual([
      1,
      'postgresql.recovery_conf.restore_command removed (was pgbackrest archive-get)\n',
    ]);
    expect((await sh(configScript(fakeApi(port), off, true), CRED)).code).toBe(0);
    expect(fake!.config.postgresql.recovery_conf).toEqual({});
    const again = await sh(configScript(fakeApi(port), off, false));
    expect([again.code, again.stdout]).toEqual([0, '']);
  });

  it('does not PATCH when nothing differs', async () => {
    const port = await start();
    fake!.config = structuredClone(want);
    const r = await sh(configScript(fakeApi(port), want, true), CRED);
    expect(r.code).toBe(0);
    expect(fake!.calls.map((c) => c.method)).toEqual(['GET']);
  });
});

describe('the patroni.dcs step names the parameters that change', () => {
  async function setup(check: boolean) {
    fake = await startFakePatroni([
      { name: 'pg1', role: 'leader', pendingRestart: false },
      { name: 'pg2', role: 'replica', pendingRestart: false },
      { name: 'pg3', role: 'replica', pendingRestart: false },
    ]);
    const inv = load(INVENTORY);
    for (const h of withRole(inv.hosts, 'postgres')) pointAtFake(h, fake.members.find((m) => m.name === h.name)!.port);
    const transports = new Map<string, Transport>(inv.hosts.map((h) => [h.name, new LocalTransport(h)]));
    const runner = testRunner(inv, transports, check);
    return { runner, members: withRole(inv.hosts, 'postgres') };
  }
  const dcsStep = stepById(patroniSteps, 'patroni.dcs');

  it('plan lists added, changed and removed parameters; apply leaves the DCS with exactly the cluster-wide map', async () => {
    let { runner, members } = await setup(true);
    fake!.config.postgresql.parameters = { max_connections: 100, work_mem: '4MB', old_setting: 'on' };
    const planned = await runner.runStep(dcsStep, members);
    const summary = planned.flatMap((r) => r.changes.map((c) => c.summary));
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatch(/^run: PATCH \/config with the DCS settings: /);
    expect(summary[0]).toContain('max_connections 100 -> 300');
    expect(summary[0]).toContain('shared_buffers = 128MB (added)');
    expect(summary[0]).toContain('old_setting removed (was on)');
    expect(summary[0]).not.toContain('work_mem');
    expect(summary[0]).not.toContain('2GB');
    expect(fake!.calls.filter((c) => c.method === 'PATCH')).toEqual([]);
    const config = fake!.config;
    await fake!.close();

    ({ runner, members } = await setup(false));
    fake!.config = config;
    await runner.runStep(dcsStep, members);
    const params = fake!.config.postgresql.parameters;
    expect(params).toMatchObject({ max_connections: 300, work_mem: '4MB', shared_buffers: '128MB' });
    expect(params).not.toHaveProperty('old_setting');
    const again = await runner.runStep(dcsStep, members);
    expect(again.map((r) => r.changes.length)).toEqual([0, 0, 0]);
  });
});
