// The host firewall: the rendered rule set per role (parsed back, and checked and loaded by the real nft in a
// scratch network namespace), the SSH-lockout refusal with the real ssh-source program, and the inventory checks.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandResource, FileResource, Resource } from '../../src/engine/types.js';
import type { Host, Inventory } from '../../src/inventory/types.js';
import {
  firewallFile,
  firewallResources,
  FIREWALL_FILE,
  loadScript,
  loadedTest,
  removeScript,
  removedTest,
} from '../../src/components/firewall/steps.js';
import { lockoutProblem, neededProbes, refuseLockout } from '../../src/components/firewall/checks.js';
import { parseSshSource, probeScript, sshSourceFact, parseProbes } from '../../src/components/firewall/facts.js';
import { normalizeSources } from '../../src/components/firewall/rules.js';
import { UserError } from '../../src/util/errors.js';
import { sha256 } from '../../src/engine/kinds/file.js';
import { ctxFor, fakeTransport, groupCtx, makeInventory } from './helpers.js';
import { LocalTransport, fakeHost } from '../engine/local-transport.js';
import { BASE, errorLines, loadError } from '../inventory/helpers.js';

const ON = { firewall_enabled: true };

/** A 5-host inventory plus a backup host and a monitor host (vars on every host). */
function inventory(vars: Record<string, unknown> = {}): Inventory {
  const inv = makeInventory({ ...ON, ...vars });
  const extra = (name: string, address: string, role: string): Host => ({
    name,
    address,
    roles: [role],
    groups: [role, 'all'],
    ssh: { user: 'root', port: 22, become: false },
    vars: { ...ON, ...vars },
  });
  inv.hosts.push(extra('bk1', '10.77.0.31', 'backup'), extra('mon1', '10.77.0.41', 'monitor'));
  return inv;
}

interface Parsed {
  policy: string;
  /** "tcp PORT" or "vrrp" -> source addresses. */
  open: Map<string, string[]>;
}

/** The input chain of a rendered file, read back: its policy and, per port, who may reach it. */
function parseRules(text: string): Parsed {
  const policy = /policy (\w+);/.exec(text)?.[1] ?? '';
  const open = new Map<string, string[]>();
  const list = (s: string) =>
    s
      .replace(/[{}]/g, '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  for (const line of text.split('\n').map((l) => l.trim())) {
    const m = /^ip saddr (\{[^}]*\}|\S+) (?:tcp dport (\{[^}]*\}|\S+)|ip protocol (vrrp)) accept comment "[^"]*"$/.exec(
      line,
    );
    if (!m) continue;
    const keys = m[3] ? ['vrrp'] : list(m[2]!).map((p) => `tcp ${p}`);
    for (const k of keys) open.set(k, [...(open.get(k) ?? []), ...list(m[1]!)].sort());
  }
  return { policy, open };
}

const rendered = (inv: Inventory, name: string) => firewallFile(ctxFor(inv, name));
const PG = ['10.77.0.11', '10.77.0.12', '10.77.0.13'];
const others = (xs: string[], me: string) => xs.filter((x) => x !== me);

describe('firewall rules per role', () => {
  const inv = inventory();

  it('an etcd + postgres member: etcd, PostgreSQL, Patroni and pgBackRest from those that need them, nothing else', () => {
    const p = parseRules(rendered(inv, 'pg1'));
    expect(p.policy).toBe('drop');
    expect(Object.fromEntries(p.open)).toEqual({
      // lab-less inventory (static): admin defaults to the cluster subnet
      'tcp 22': ['10.77.0.0/24'],
      // With TLS (the default) the monitor reads etcd's /metrics on the plain metrics port, not the client port.
      'tcp 2379': others(PG, '10.77.0.11'),
      'tcp 2380': others(PG, '10.77.0.11'),
      'tcp 2381': ['10.77.0.41'],
      'tcp 5432': [...others(PG, '10.77.0.11'), '10.77.0.21', '10.77.0.22'].sort(),
      'tcp 8008': ['10.77.0.0/24'],
      'tcp 8432': ['10.77.0.31'],
    });
  });

  it('a balancer: client ports from the client networks, stats from admins, VRRP from the other balancer', () => {
    const p = parseRules(
      rendered(inventory({ firewall_admin_cidrs: '192.168.5.7', firewall_client_cidrs: '172.16.0.0/12' }), 'lb1'),
    );
    expect(Object.fromEntries(p.open)).toEqual({
      'tcp 22': ['192.168.5.7'],
      'tcp 5001': ['10.77.0.11', '10.77.0.12', '10.77.0.13', '172.16.0.0/12'],
      'tcp 5002': ['10.77.0.11', '10.77.0.12', '10.77.0.13', '172.16.0.0/12'],
      'tcp 5010': ['10.77.0.11', '10.77.0.12', '10.77.0.13', '172.16.0.0/12'],
      'tcp 8404': ['192.168.5.7'],
      vrrp: ['10.77.0.22'],
    });
  });

  it('with an explicit admin address, members take Patroni from members, balancers, monitor and admins only', () => {
    const p = parseRules(rendered(inventory({ firewall_admin_cidrs: '192.168.5.7' }), 'pg2'));
    expect(p.open.get('tcp 8008')).toEqual(
      ['10.77.0.11', '10.77.0.13', '10.77.0.21', '10.77.0.22', '10.77.0.41', '192.168.5.7'].sort(),
    );
  });

  it('ports are read from the settings; pooling, exporters and extra ports add theirs', () => {
    const p = parseRules(
      rendered(
        inventory({
          firewall_admin_cidrs: '192.168.5.7',
          etcd_client_port: 12379,
          postgres_port: 15432,
          pgbouncer_enabled: true,
          metrics_node_exporter: true,
          metrics_postgres_exporter: true,
          metrics_haproxy: true,
          firewall_open_tcp_ports: '8080, 9000-9010',
        }),
        'pg1',
      ),
    );
    expect(p.open.has('tcp 2379')).toBe(false);
    expect(p.open.get('tcp 12379')).toContain('10.77.0.12');
    expect(p.open.get('tcp 15432')).toContain('10.77.0.21');
    expect(p.open.get('tcp 6432')).toEqual(['10.77.0.21', '10.77.0.22']);
    expect(p.open.get('tcp 9100')).toEqual(['10.77.0.41', '192.168.5.7']);
    expect(p.open.get('tcp 9187')).toEqual(['10.77.0.41', '192.168.5.7']);
    expect(p.open.get('tcp 9000-9010')).toEqual(['10.77.0.0/24']);
    const lb = parseRules(rendered(inventory({ pgbouncer_enabled: true, metrics_haproxy: true }), 'lb2'));
    for (const port of [6001, 6002, 6010, 8405]) expect(lb.open.has(`tcp ${port}`)).toBe(true);
    expect(lb.open.get('vrrp')).toEqual(['10.77.0.21']);
  });

  it('the backup host takes pgBackRest from the members, the monitor Prometheus from admins', () => {
    expect(Object.fromEntries(parseRules(rendered(inv, 'bk1')).open)).toEqual({
      'tcp 22': ['10.77.0.0/24'],
      'tcp 8432': PG,
    });
    expect(parseRules(rendered(inv, 'mon1')).open.get('tcp 9090')).toEqual(['10.77.0.0/24']);
  });

  it('an address inside a listed network is folded into it (nftables refuses overlapping set elements)', () => {
    expect(normalizeSources(['10.0.0.5', '10.0.0.0/24', '10.0.0.0/24', '192.168.1.1', '10.0.0.0/16'])).toEqual([
      '10.0.0.0/16',
      '192.168.1.1',
    ]);
  });

  it('off: the only resource removes the table and its files, when they are there', () => {
    const rs = firewallResources(ctxFor(makeInventory(), 'pg1'), {});
    expect(rs.map((r) => r.kind)).toEqual(['command']);
    expect((rs[0] as CommandResource).unless).toContain('! nft list table inet pgha');
  });

  it('on: nftables, the rules file checked by nft -c, the boot drop-in, nftables enabled (not started), the load', () => {
    const rs: Resource[] = firewallResources(ctxFor(inv, 'pg1'), { ssh: { client: '10.77.0.1', port: 2222 } });
    expect(rs.map((r) => r.kind)).toEqual(['packages', 'file', 'file', 'service', 'command']);
    const file = rs[1] as FileResource;
    expect(file).toMatchObject({ path: FIREWALL_FILE, validate: 'nft -c -f %s' });
    expect(parseRules(file.content).open.get('tcp 2222')).toEqual(['10.77.0.0/24']);
    expect(parseRules(file.content).open.get('tcp 22')).toEqual(['10.77.0.0/24']);
    expect(rs[3]).toEqual({ kind: 'service', name: 'nftables', enabled: true });
  });
});

/** Run a shell script in a fresh network namespace of its own (never the machine's). */
function inScratchNetns(script: string): { code: number; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-nft-'));
  writeFileSync(join(dir, 'run.sh'), script);
  const r = spawnSync('unshare', ['-n', 'sh', join(dir, 'run.sh')], { encoding: 'utf8', cwd: dir, timeout: 60_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

describe('the rendered rules with the real nft, in a scratch network namespace', () => {
  it("every role's file passes nft -c, loads, and reloading it replaces only the pgha table", () => {
    const inv = inventory({ pgbouncer_enabled: true, metrics_node_exporter: true, metrics_haproxy: true });
    const dir = mkdtempSync(join(tmpdir(), 'pgha-nft-files-'));
    for (const h of inv.hosts) writeFileSync(join(dir, `${h.name}.nft`), rendered(inv, h.name));
    const r = inScratchNetns(
      [
        'set -e',
        'nft add table inet other',
        ...inv.hosts.map((h) => `nft -c -f ${dir}/${h.name}.nft && echo "checked ${h.name}"`),
        `nft -f ${dir}/pg1.nft`,
        `nft -f ${dir}/pg1.nft`,
        'nft list tables',
        'nft list chain inet pgha input | grep -c accept',
      ].join('\n'),
    );
    expect(r.code, r.out).toBe(0);
    for (const h of inv.hosts) expect(r.out).toContain(`checked ${h.name}`);
    expect(r.out).toContain('table inet other\ntable inet pgha\n');
  });

  it('loaded on a member, its ports answer a member and stay silent to an outsider (the real probe program)', () => {
    const inv = inventory({ firewall_admin_cidrs: '192.168.5.7' });
    const me = inv.hosts.find((h) => h.name === 'pg1')!;
    const file = join(mkdtempSync(join(tmpdir(), 'pgha-nft-')), 'pg1.nft');
    writeFileSync(file, rendered(inv, 'pg1'));
    const probe = probeScript(
      [2379, 5432, 8008].map((port) => ({ address: me.address, port })),
      2,
    );
    const pfile = `${file}.probe.sh`;
    writeFileSync(pfile, probe);
    // This namespace is pg1; a child namespace behind a veth pair is first pg2, then an outsider.
    const r = inScratchNetns(
      [
        'set -e',
        'ip link set lo up',
        'unshare -n sleep 60 & peer=$!',
        'sleep 0.3',
        'ip link add fw0 type veth peer name fw1 netns $peer',
        `ip addr add ${me.address}/24 dev fw0 && ip link set fw0 up`,
        'nsenter -t $peer -n sh -c "ip link set lo up; ip link set fw1 up; ip addr add 10.77.0.12/24 dev fw1"',
        'sleep 1',
        `nft -f ${file}`,
        `echo member; nsenter -t $peer -n bash ${pfile}`,
        'nsenter -t $peer -n sh -c "ip addr flush dev fw1; ip addr add 10.77.0.99/24 dev fw1"',
        `echo outsider; nsenter -t $peer -n bash ${pfile}`,
        'kill $peer',
      ].join('\n'),
    );
    expect(r.code, r.out).toBe(0);
    const [member, outsider] = r.out.split('outsider\n');
    const m = parseProbes(member!);
    const o = parseProbes(outsider!);
    console.log(`member: ${[...m].join(' ')}; outsider: ${[...o].join(' ')}`);
    for (const port of [2379, 5432, 8008]) {
      expect(m.get(`10.77.0.11:${port}`)).toBe('refused'); // let in; nothing listens here
      expect(o.get(`10.77.0.11:${port}`)).toBe('timeout'); // dropped
    }
  });
});

describe('the load, its no-op test and the removal, with the real nft in a scratch network namespace', () => {
  it('loads once; a second pass is skipped; a hand-made change to the live table or a new file loads again; off removes it', () => {
    const inv = inventory();
    const dir = mkdtempSync(join(tmpdir(), 'pgha-nft-load-'));
    const p = {
      file: `${dir}/firewall.nft`,
      dropin: `${dir}/pgha.conf`,
      sum: `${dir}/state/sum`,
      live: `${dir}/state/live`,
    };
    const first = rendered(inv, 'pg1');
    const other = rendered(inventory({ firewall_open_tcp_ports: '7777' }), 'pg1');
    writeFileSync(p.file, first);
    writeFileSync(`${dir}/other.nft`, other);
    // The remove script's daemon-reload is not for this machine: a fake systemctl first on PATH.
    writeFileSync(`${dir}/systemctl`, '#!/bin/sh\nexit 0\n');
    const step = (name: string, test: string, script: string) =>
      `if ( ${test} ) 2>/dev/null; then echo "${name} skip"; else ( ${script}\n) && echo "${name} run"; fi`;
    const r = inScratchNetns(
      [
        `chmod +x ${dir}/systemctl; PATH=${dir}:$PATH`,
        'nft add table inet other',
        step('first', loadedTest(sha256(first), p), loadScript(p)),
        step('again', loadedTest(sha256(first), p), loadScript(p)),
        'nft add rule inet pgha input tcp dport 9999 accept',
        step('drift', loadedTest(sha256(first), p), loadScript(p)),
        'nft list chain inet pgha input | grep -c 9999 || true',
        // The wanted content changes: the test runs before the new file is written (as the engine probes first).
        step('newfile', loadedTest(sha256(other), p), `cp ${dir}/other.nft ${p.file}\n${loadScript(p)}`),
        step('same', loadedTest(sha256(other), p), loadScript(p)),
        'nft list chain inet pgha input | grep -c "dport 7777"',
        'nft list tables',
        step('off', removedTest(p), removeScript(p)),
        step('offagain', removedTest(p), removeScript(p)),
        'nft list tables',
      ].join('\n'),
    );
    expect(r.code, r.out).toBe(0);
    expect(r.out.trim().split('\n')).toEqual([
      'first run',
      'again skip',
      'drift run',
      '0',
      'newfile run',
      'same skip',
      '1',
      'table inet other',
      'table inet pgha',
      'off run',
      'offagain skip',
      'table inet other',
    ]);
  });
});

describe('SSH lockout', () => {
  it('the ssh-source program reads SSH_CONNECTION, also from a parent process when sudo dropped it', async () => {
    const t = new LocalTransport(fakeHost());
    const direct = await t.exec(
      `SSH_CONNECTION='10.77.0.1 40000 10.77.0.11 2222'; export SSH_CONNECTION\n${sshSourceFact().script}`,
    );
    expect(parseSshSource(direct.stdout)).toEqual({ client: '10.77.0.1', port: 2222 });
    const dir = mkdtempSync(join(tmpdir(), 'pgha-ssh-src-'));
    writeFileSync(join(dir, 'src.sh'), sshSourceFact().script);
    // The inner shell has no SSH_CONNECTION (as under sudo); its parent started with one.
    const r = spawnSync('sh', ['-c', `env -u SSH_CONNECTION sh ${join(dir, 'src.sh')}`], {
      encoding: 'utf8',
      env: { ...process.env, SSH_CONNECTION: '::ffff:10.77.0.5 40001 10.77.0.11 22' },
    });
    expect(parseSshSource(r.stdout)).toEqual({ client: '10.77.0.5', port: 22 });
  });

  it('a source outside the admin networks is refused before anything runs on any host', async () => {
    const inv = makeInventory({ ...ON, firewall_admin_cidrs: '10.77.0.0/28' });
    const ts = new Map(
      inv.hosts.map((h) => [
        h.name,
        fakeTransport(h, () => ({ stdout: `ssh ${h.name === 'lb2' ? '10.77.0.200' : '10.77.0.5'} 22\n` })),
      ]),
    );
    const e = await refuseLockout(groupCtx(inv, ts)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UserError);
    expect((e as UserError).message).toMatch(
      /lb2: pgha connects from 10\.77\.0\.200, outside firewall_admin_cidrs \(10\.77\.0\.0\/28\)/,
    );
    expect((e as UserError).message).not.toMatch(/pg1:/);
    expect((e as UserError).where?.field).toBe('vars.firewall_admin_cidrs');
    // Each host ran the read-only ssh-source program, and nothing else.
    for (const t of ts.values()) expect(t.scripts).toEqual([sshSourceFact().script]);
  });

  it('inside the admin networks it passes; an unreadable source is refused; off, nothing is asked', async () => {
    const inv = makeInventory(ON);
    const ok = new Map(inv.hosts.map((h) => [h.name, fakeTransport(h, () => ({ stdout: 'ssh 10.77.0.1 22\n' }))]));
    await expect(refuseLockout(groupCtx(inv, ok))).resolves.toBeUndefined();
    expect(lockoutProblem(inv.hosts[0]!, ['10.77.0.0/24'], { client: '', port: 0 })).toMatch(/cannot be read/);
    const off = makeInventory();
    const none = new Map(off.hosts.map((h) => [h.name, fakeTransport(h, () => ({}))]));
    await refuseLockout(groupCtx(off, none));
    for (const t of none.values()) expect(t.scripts).toEqual([]);
  });

  it('the lab default admin address is the bridge address', () => {
    const inv = makeInventory(ON);
    inv.provider = { type: 'lab', lab: { bridge: 'b0', bridgeAddress: '10.77.0.1', cachePort: 3142, stateDir: '/x' } };
    expect(parseRules(rendered(inv, 'pg1')).open.get('tcp 22')).toEqual(['10.77.0.1']);
  });

  it('the reachability check probes each port from the inventory hosts its rule names', () => {
    const inv = inventory({ firewall_admin_cidrs: '192.168.5.7' });
    const p = neededProbes(
      { inventory: inv },
      inv.hosts.filter((h) => h.name === 'pg1'),
    );
    expect(p.get('bk1')).toEqual([{ address: '10.77.0.11', port: 8432 }]);
    expect(p.get('lb1')).toEqual([
      { address: '10.77.0.11', port: 5432 },
      { address: '10.77.0.11', port: 8008 },
    ]);
    expect(p.has('pg1')).toBe(false);
  });
});

describe('firewall inventory checks', () => {
  const withVars = (lines: string[]) =>
    BASE.replace('hosts:\n', `vars:\n${lines.map((l) => `  ${l}`).join('\n')}\nhosts:\n`);

  it('a network with host bits set is refused at its line', () => {
    const e = loadError(withVars(['firewall_enabled: true', 'firewall_admin_cidrs: "10.77.0.1/24"']));
    const lines = errorLines(e);
    expect(lines).toEqual([expect.objectContaining({ field: 'vars.firewall_admin_cidrs' })]);
    expect(lines[0]!.line).toBe(BASE.split('\n').indexOf('hosts:') + 3);
    expect(lines[0]!.message).toMatch(/did you mean '10\.77\.0\.0\/24'/);
  });

  it('a list that is not addresses, and a port out of range, are refused', () => {
    expect(errorLines(loadError(withVars(['firewall_client_cidrs: "everyone"'])))).toEqual([
      expect.objectContaining({ field: 'vars.firewall_client_cidrs' }),
    ]);
    expect(errorLines(loadError(withVars(['firewall_open_tcp_ports: "70000"'])))[0]!.message).toMatch(/not a port/);
    expect(errorLines(loadError(withVars(['firewall_enabled: "yes"'])))).toEqual([
      expect.objectContaining({ field: 'vars.firewall_enabled' }),
    ]);
  });
});
