import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FileResource, Resource } from '../../src/engine/types.js';
import { components } from '../../src/components/index.js';
import { SECRET_KEYS } from '../../src/components/index.js';
import { httpGetScript, parseHttpResponse, parseJsonBig } from '../../src/components/common.js';
import { formatStatus, type ClusterStatus } from '../../src/cli/status.js';
import { parseIpAddr } from '../../src/components/keepalived/facts.js';
import { ctxFor, makeInventory, SECRETS } from './helpers.js';
import { findPlaybook, loadPlaybook, PLAYBOOKS_DIR } from '../../src/playbook/load.js';
import { join } from 'node:path';

async function planAll(facts: Record<string, unknown>): Promise<{ host: string; step: string; r: Resource }[]> {
  const inv = makeInventory();
  const out: { host: string; step: string; r: Resource }[] = [];
  const roleOf: Record<string, string> = {
    etcd: 'etcd',
    patroni: 'postgres',
    haproxy: 'haproxy',
    keepalived: 'haproxy',
    verify: '',
  };
  for (const [name, c] of Object.entries(components)) {
    for (const h of inv.hosts.filter((x) => !roleOf[name] || x.roles.includes(roleOf[name] as never))) {
      const f = { ...facts, addresses: parseIpAddr(`2: host0    inet ${h.address}/24 scope global host0`) };
      for (const s of c.steps)
        for (const r of await s.resources(ctxFor(inv, h.name), f)) out.push({ host: h.name, step: s.id, r });
    }
  }
  return out;
}

describe('the cluster playbook components', () => {
  it('registry has every component of playbooks/cluster.yml', () => {
    const pb = loadPlaybook(findPlaybook('cluster'), components); // throws on a component or step the registry lacks
    expect(pb.file).toBe(join(PLAYBOOKS_DIR, 'cluster.yml'));
    const owner = (stepId: string) =>
      Object.entries(components).find(([, c]) => c.steps.some((s) => s.id === stepId))?.[0];
    const used = [...new Set(pb.plays.map((p) => p.component ?? (p.step ? owner(p.step) : undefined)))];
    expect(used).toEqual([
      'firewall',
      'packages',
      'etcd',
      'etcd-tls-move',
      'backup',
      'patroni',
      'access',
      'pgbouncer',
      'haproxy',
      'keepalived',
      'metrics',
      'client',
      'verify',
    ]);
    expect(Object.keys(components).sort()).toEqual([...used].sort()); // and nothing the playbook does not use
  });

  it('secrets appear only in files marked secret (0600)', async () => {
    const all = await planAll({ etcdInstalled: false, etcdMember: false, etcdPeers: null });
    const files = all.filter((x) => x.r.kind === 'file').map((x) => x.r as FileResource);
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const leaks = Object.values(SECRETS).filter((v) => f.content.includes(v));
      if (f.secret) expect(f.mode).toBe('0600');
      else expect(leaks, f.path).toEqual([]);
    }
    const secretPaths = files
      .filter((f) => f.secret)
      .map((f) => f.path)
      .sort();
    expect(secretPaths).toEqual([
      '/etc/etcd/tls/host.key',
      '/etc/etcd/tls/host.key',
      '/etc/etcd/tls/host.key',
      '/etc/haproxy/haproxy.cfg',
      '/etc/haproxy/haproxy.cfg',
      '/etc/keepalived/keepalived.conf',
      '/etc/keepalived/keepalived.conf',
      '/etc/patroni/config.yml',
      '/etc/patroni/config.yml',
      '/etc/patroni/config.yml',
      '/etc/patroni/etcd-tls/host.key',
      '/etc/patroni/etcd-tls/host.key',
      '/etc/patroni/etcd-tls/host.key',
      '/etc/patroni/tls/host.key',
      '/etc/patroni/tls/host.key',
      '/etc/patroni/tls/host.key',
    ]);
  });

  it('no command runs without a guard (second runs change nothing)', async () => {
    const all = await planAll({ etcdInstalled: true, etcdMember: true, etcdPeers: null });
    const commands = all.filter((x) => x.r.kind === 'command');
    expect(new Set(commands.map((c) => c.step)).size).toBeGreaterThanOrEqual(3); // etcd, patroni and haproxy have commands
    const unguarded = commands
      .filter(({ r }) => r.kind === 'command' && !r.unless && !r.creates)
      .map(({ step, host }) => `${host} ${step}`);
    expect(unguarded).toEqual([]);
  });

  it('secret specs: VRRP at most 8 characters, database passwords long', () => {
    const by = Object.fromEntries(SECRET_KEYS.map((s) => [s.key, s.length]));
    expect(by.vrrp_password).toBe(8);
    for (const k of ['postgres_superuser_password', 'replication_password', 'rewind_password', 'patroni_api_password'])
      expect(by[k]).toBeGreaterThanOrEqual(24);
  });
});

describe('helpers', () => {
  it('parseJsonBig keeps uint64 exact and leaves strings alone', () => {
    const v = parseJsonBig(
      '{"id":11316225383092011485,"n":12,"s":"x 12345678901234567890","f":1.5e3,"neg":-7}',
    ) as Record<string, unknown>;
    expect(v).toEqual({ id: '11316225383092011485', n: 12, s: 'x 12345678901234567890', f: 1500, neg: -7 });
  });

  it('httpGetScript fetches over bash /dev/tcp (loopback server)', async () => {
    const server = createServer((req, res) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ path: req.url, method: req.method }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const out = await new Promise<string>((resolve) => {
        const p = spawn('sh', ['-c', httpGetScript('127.0.0.1', port, '/;csv')]);
        let s = '';
        p.stdout.on('data', (d) => (s += d));
        p.on('close', () => resolve(s));
      });
      const r = parseHttpResponse(out);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({ path: '/;csv', method: 'GET' });
    } finally {
      server.close();
    }
  });
});

describe('status table', () => {
  const s: ClusterStatus = {
    cluster: 'demo',
    vip: '10.77.0.100',
    vipHolders: ['lb1'],
    paused: false,
    patroniSource: 'pg1',
    members: [
      { name: 'pg1', host: '10.77.0.11', role: 'leader', state: 'running', timeline: 3, pendingRestart: false },
      { name: 'pg2', host: '10.77.0.12', role: 'replica', state: 'running', timeline: 3, lag: 0, pendingRestart: true },
      { name: 'pg3', host: '10.77.0.13', role: 'replica', state: 'stopped', lag: 'unknown', pendingRestart: false },
    ],
    balancers: [
      { host: 'lb1', backends: { primary: ['pg1'], replicas: ['pg2'], all: ['pg1', 'pg2'] } },
      { host: 'lb2', backends: {}, error: 'not connected' },
    ],
    ports: { primary: 5001, replicas: 5002, all: 5010 },
    etcd: {
      leader: 'pg2',
      members: [
        { name: 'pg1', endpoint: 'x', healthy: true },
        { name: 'pg2', endpoint: 'y', healthy: true },
        { name: 'pg3', endpoint: 'z', healthy: false, error: 'context deadline exceeded' },
      ],
    },
    certificates: [
      {
        host: 'pg1',
        certificates: [
          { path: '/etc/patroni/tls/host.crt', notAfter: '2029-03-05T10:00:00.000Z', daysLeft: 824 },
          { path: '/etc/pgbackrest/tls/host.crt', notAfter: '2027-01-10T10:00:00.000Z', daysLeft: 12 },
        ],
      },
      { host: 'pg2', certificates: [], error: 'timed out' },
    ],
  };
  it('shows roles, ports each member is UP on, the VIP holder and etcd health', () => {
    const t = formatStatus(s);
    expect(t).toContain('VIP 10.77.0.100 on lb1');
    expect(t).toContain('etcd 2/3 healthy, leader pg2');
    expect(t).toMatch(/\| pg1 +\| 10\.77\.0\.11 \| Leader +\| running \| 3 +\| +\| 5001,5010 +\|/);
    expect(t).toMatch(/\| pg2 .*\| Replica .*\| 0 +\| 5002,5010 +\| \* +\|/);
    expect(t).toMatch(/\| pg3 .*\| stopped .*\| unknown .*\|/);
    expect(t).toContain('haproxy on lb2: not connected');
    expect(t).toContain('etcd pg3 unhealthy: context deadline exceeded');
    // The soonest expiry of each host, flagged when pgha up would issue it again.
    expect(t).toContain('Certificates valid for: pg1 12 d (renewed by pgha up), pg2 ?');
  });
});
