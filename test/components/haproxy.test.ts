import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FileResource } from '../../src/engine/types.js';
import { HAPROXY_CONFIG, haproxyQuote, haproxySteps } from '../../src/components/haproxy/steps.js';
import { parseStatCsv, upServers } from '../../src/components/haproxy/facts.js';
import { diffBackends, expectedBackends, verifyHaproxy } from '../../src/components/haproxy/checks.js';
import { parseCluster } from '../../src/components/patroni/facts.js';
import { parseHttpResponse } from '../../src/components/common.js';
import { CheckError } from '../../src/util/errors.js';
import { ctxFor, fakeTransport, groupCtx, makeInventory, plan, stepById } from './helpers.js';
import { useFakeClock } from '../engine/fake-clock.js';

useFakeClock(); // the checks' bounded waits pass without real waiting

// Recorded from Debian's haproxy 2.6.12 running the rendered config against three fake Patroni health ports
// (pg1 primary, pg2/pg3 replicas), fetched with the same bash /dev/tcp request the checks use.
const raw = readFileSync(join(fileURLToPath(new URL('./fixtures', import.meta.url)), 'haproxy-stats.raw'), 'utf8');

function section(cfg: string, name: string): string {
  const start = cfg.indexOf(`listen ${name}\n`);
  const rest = cfg.slice(start + 1);
  const end = rest.search(/\n(listen|global|defaults)\b/);
  return end < 0 ? rest : rest.slice(0, end);
}

describe('haproxy config', () => {
  const step = stepById(haproxySteps, 'haproxy.config');
  const cfgFile = async () =>
    (await plan(step, ctxFor(makeInventory(), 'lb1'), {})).find(
      (r) => r.kind === 'file' && r.path === HAPROXY_CONFIG,
    ) as FileResource;

  it('is validated and reloads (never restarts)', async () => {
    const f = await cfgFile();
    expect(f.path).toBe(HAPROXY_CONFIG);
    expect(f.validate).toContain('haproxy -dW -c -f');
    expect(f.notify).toEqual([{ service: 'haproxy', action: 'reload' }]);
  });

  it('5001 primary only, 5002 replicas, 5010 all, stats on 8404', async () => {
    const cfg = (await cfgFile()).content;
    const primary = section(cfg, 'primary');
    expect(primary).toContain('bind *:5001');
    expect(primary).toContain('option httpchk OPTIONS /primary');
    expect(primary).toContain('http-check expect status 200');
    const replicas = section(cfg, 'replicas');
    expect(replicas).toContain('bind *:5002');
    expect(replicas).toMatch(/option httpchk OPTIONS \/replica\?lag=16777216/);
    expect(replicas).toContain('balance roundrobin');
    const all = section(cfg, 'all');
    expect(all).toContain('bind *:5010');
    expect(all).toContain('option httpchk OPTIONS /health');
    const stats = section(cfg, 'stats');
    expect(stats).toContain('bind *:8404');
    expect(stats).toContain('stats uri /');
    expect(stats).toContain('mode http');
    expect(cfg).toContain('stats socket /run/haproxy/admin.sock');
    // A refused connection (a member stopping for a restart or a switchover) is retried on another server.
    expect(cfg).toMatch(/\ndefaults\n( {4}.*\n)* {4}option redispatch 1\n/);
    for (const s of [primary, replicas, all]) {
      expect(s).toMatch(/default-server inter 500ms .*fall 2 rise 1 on-marked-down shutdown-sessions/);
      for (const [n, a] of [
        ['pg1', '10.77.0.11'],
        ['pg2', '10.77.0.12'],
        ['pg3', '10.77.0.13'],
      ]) {
        expect(s).toContain(`server ${n} ${a}:5432 maxconn 200 check port 8008`);
      }
      expect(s).not.toContain('10.77.0.21'); // balancers are not backends
    }
  });

  it('the stats page wants the password except from 127.0.0.1; the file is secret; an admin address binds there', async () => {
    const f = await cfgFile();
    expect(f).toMatchObject({ mode: '0600', owner: 'root', secret: true });
    expect(f.content).toContain(
      'userlist pgha_stats\n    user admin insecure-password "StAtSPw0rdEeeeeeeeeeeeeeeeeeeee5"\n',
    );
    const stats = section(f.content, 'stats');
    expect(stats).toContain('acl pgha_local src 127.0.0.1');
    expect(stats).toContain('acl pgha_auth http_auth(pgha_stats)');
    expect(stats).toContain('http-request auth realm stats if !pgha_local !pgha_auth');
    const admin = section(
      (
        (await plan(step, ctxFor(makeInventory({ haproxy_stats_address: '10.77.0.21' }), 'lb1'), {})).find(
          (r) => r.kind === 'file' && r.path === HAPROXY_CONFIG,
        ) as FileResource
      ).content,
      'stats',
    );
    expect(admin).toContain('bind 127.0.0.1:8404\n    bind 10.77.0.21:8404\n');
    expect(admin).not.toContain('bind *:8404');
    expect(haproxyQuote('a"b\\c$HOME')).toBe('"a\\"b\\\\c\\$HOME"');
  });

  it('check timing follows inventory vars', async () => {
    const f = (
      await plan(step, ctxFor(makeInventory({ haproxy_check_inter: '500ms', haproxy_check_rise: 2 }), 'lb1'), {})
    ).find((r) => r.kind === 'file' && r.path === HAPROXY_CONFIG) as FileResource;
    expect(f.content).toContain('default-server inter 500ms fastinter 500ms downinter 500ms fall 2 rise 2');
  });
});

describe('haproxy stats', () => {
  it('de-chunks the stats page and counts UP servers per proxy', () => {
    const r = parseHttpResponse(raw);
    expect(r.status).toBe(200);
    const rows = parseStatCsv(r.body);
    expect(rows.find((x) => x.pxname === 'primary' && x.svname === 'pg2')).toMatchObject({
      status: 'DOWN',
      checkStatus: 'L7STS',
    });
    expect(upServers(rows)).toMatchObject({ primary: ['pg1'], replicas: ['pg2', 'pg3'], all: ['pg1', 'pg2', 'pg3'] });
  });

  it('expected backends follow Patroni and a mismatch is named', () => {
    const c = parseCluster(
      JSON.stringify({
        members: [
          { name: 'pg1', role: 'leader', state: 'running', timeline: 1 },
          { name: 'pg2', role: 'replica', state: 'running', timeline: 1, lag: 0 },
          { name: 'pg3', role: 'replica', state: 'stopped', timeline: 1, lag: 'unknown' },
        ],
      }),
    );
    const want = expectedBackends(c, 1000);
    expect(want).toEqual({ primary: ['pg1'], replicas: ['pg2'], all: ['pg1', 'pg2'] });
    const got = upServers(parseStatCsv(parseHttpResponse(raw).body));
    expect(diffBackends(want, got)).toBe('replicas: UP [pg2 pg3], want [pg2]; all: UP [pg1 pg2 pg3], want [pg1 pg2]');
    expect(diffBackends(got, got)).toBe('');
  });

  it('verify passes on the recorded stats and fails with the haproxy log when they disagree', async () => {
    const inv = makeInventory();
    const cluster = (pg3: string) =>
      JSON.stringify({
        members: [
          { name: 'pg1', role: 'leader', state: 'running', timeline: 1 },
          { name: 'pg2', role: 'replica', state: 'running', timeline: 1, lag: 0 },
          { name: 'pg3', role: 'replica', state: pg3, timeline: 1, lag: 0 },
        ],
      });
    const mk = (pg3: string) =>
      new Map(
        inv.hosts.map((h) => [
          h.name,
          fakeTransport(h, (s) => {
            if (s.includes('/cluster'))
              return { stdout: `HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n${cluster(pg3)}` };
            if (s.includes(';csv')) return { stdout: raw };
            if (s.startsWith('journalctl')) return { stdout: 'haproxy log line' };
            return { code: 1 };
          }),
        ]),
      );
    const lbs = inv.hosts.filter((h) => h.roles.includes('haproxy'));
    await expect(verifyHaproxy(groupCtx(inv, mk('running'), lbs), 1000)).resolves.toBeUndefined();
    const err = await verifyHaproxy(groupCtx(inv, mk('stopped'), lbs), 1000).catch((e) => e);
    expect(err).toBeInstanceOf(CheckError);
    expect(err.host).toBe('lb1');
    expect(err.logs).toContain('haproxy log line');
  });
});

describe('haproxy when members come and go', () => {
  const step = stepById(haproxySteps, 'haproxy.config');
  const withPg4 = () => {
    const inv = makeInventory();
    const pg4 = { ...inv.hosts[0]!, name: 'pg4', address: '10.77.0.14', roles: ['postgres' as const] };
    inv.hosts.push(pg4);
    return inv;
  };

  it('is rolling (one balancer reloads at a time) and checks each balancer answers before the next', () => {
    expect(step.serial).toBe(true);
    expect(step.verify).toBeTypeOf('function');
  });

  it('renders a new postgres host as a server of every listen section', async () => {
    const f = (await plan(step, ctxFor(withPg4(), 'lb1'), {})).find(
      (r) => r.kind === 'file' && r.path === HAPROXY_CONFIG,
    ) as FileResource;
    for (const px of ['primary', 'replicas', 'all'])
      expect(section(f.content, px)).toContain('server pg4 10.77.0.14:5432 maxconn 200 check port 8008');
  });

  it('expects UP only the members that have a server line (one being removed, or dropped, has none)', () => {
    const c = parseCluster(
      JSON.stringify({
        members: [
          { name: 'pg1', role: 'leader', state: 'running', timeline: 1 },
          { name: 'pg2', role: 'replica', state: 'running', timeline: 1, lag: 0 },
          { name: 'pg4', role: 'replica', state: 'running', timeline: 1, lag: 0 },
        ],
      }),
    );
    expect(expectedBackends(c, 1000, ['pg1', 'pg2', 'pg3'])).toEqual({
      primary: ['pg1'],
      replicas: ['pg2'],
      all: ['pg1', 'pg2'],
    });
    expect(expectedBackends(c, 1000).all).toEqual(['pg1', 'pg2', 'pg4']);
  });
});
