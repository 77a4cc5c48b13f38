import { describe, expect, it } from 'vitest';
import type { FileResource } from '../../src/engine/types.js';
import {
  CHECK_SCRIPT,
  KEEPALIVED_CONFIG,
  keepalivedSteps,
  priorityFor,
} from '../../src/components/keepalived/steps.js';
import { interfaceFor, parseIpAddr } from '../../src/components/keepalived/facts.js';
import { verifyKeepalived } from '../../src/components/keepalived/checks.js';
import { routerIdFor } from '../../src/components/keepalived/settings.js';
import { CheckError, UserError } from '../../src/util/errors.js';
import { ctxFor, fakeTransport, groupCtx, makeInventory, plan, SECRETS, stepById } from './helpers.js';
import { useFakeClock } from '../engine/fake-clock.js';

useFakeClock(); // the checks' bounded waits pass without real waiting

const IP_LB1 = `1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever
2: host0@if7    inet 10.77.0.21/24 brd 10.77.0.255 scope global host0\\       valid_lft forever preferred_lft forever`;
const IP_VM = `1: lo    inet 127.0.0.1/8 scope host lo
2: ens18    inet 192.168.50.21/24 metric 100 brd 192.168.50.255 scope global dynamic ens18`;

describe('interface detection', () => {
  it('finds the interface that carries the host address', () => {
    expect(interfaceFor('10.77.0.21', parseIpAddr(IP_LB1))).toBe('host0');
    expect(interfaceFor('192.168.50.21', parseIpAddr(IP_VM))).toBe('ens18');
    expect(interfaceFor('10.9.9.9', parseIpAddr(IP_VM))).toBeUndefined();
  });
});

describe('keepalived config', () => {
  const step = stepById(keepalivedSteps, 'keepalived.config');
  const files = async (host: string, vars: Record<string, unknown> = {}, ip = IP_LB1) => {
    const res = await plan(step, ctxFor(makeInventory(vars), host), { addresses: parseIpAddr(ip) });
    return {
      res,
      conf: res.find((r) => r.kind === 'file' && r.path === KEEPALIVED_CONFIG) as FileResource,
      chk: res.find((r) => r.kind === 'file' && r.path === CHECK_SCRIPT) as FileResource,
    };
  };

  it('carries the VIP on the detected interface with a HAProxy track script', async () => {
    const { conf, chk, res } = await files('lb1');
    expect(conf.content).toContain('10.77.0.100/24 dev host0');
    expect(conf.content).toMatch(/interface host0\n/);
    expect(conf.content).toMatch(
      /vrrp_script chk_haproxy \{\n\s+script "\/etc\/keepalived\/check_haproxy.sh"\n\s+interval 1\n\s+timeout 2\n\s+fall 2\n\s+rise 1/,
    );
    expect(conf.content).toMatch(/track_script \{\n\s+chk_haproxy\n/);
    expect(conf.content).toContain('enable_script_security');
    expect(conf.content).toContain('script_user root');
    expect(conf.content).toContain('advert_int 1');
    expect(conf.content).toContain(`auth_pass ${SECRETS.vrrp_password}`);
    expect(conf.content).not.toContain('vrrp_strict');
    expect(conf.content).not.toContain('nopreempt');
    expect(conf.content).toContain(`virtual_router_id ${routerIdFor('demo')}`);
    expect(conf).toMatchObject({
      secret: true,
      mode: '0600',
      validate: 'keepalived -t -e -f %s',
      notify: [{ service: 'keepalived', action: 'reload' }],
    });
    expect(chk.content).toContain('pidof haproxy');
    expect(chk.mode).toBe('0755');
    expect(res.indexOf(chk)).toBeLessThan(res.indexOf(conf)); // the script exists before validation
    expect(res.at(-1)).toEqual({ kind: 'service', name: 'keepalived', enabled: true, state: 'started' });
  });

  it('the first balancer has the highest priority', async () => {
    expect((await files('lb1')).conf.content).toContain('priority 150');
    expect((await files('lb2', {}, IP_LB1.replace('10.77.0.21', '10.77.0.22'))).conf.content).toContain('priority 100');
    expect(priorityFor(0)).toBeGreaterThan(priorityFor(1));
    expect(priorityFor(1)).toBeGreaterThan(priorityFor(2));
  });

  it('unicast peers by default; multicast on request', async () => {
    expect((await files('lb1', { keepalived_unicast: false })).conf.content).not.toContain('unicast_peer');
    const u = (await files('lb1')).conf.content;
    expect(u).toContain('unicast_src_ip 10.77.0.21');
    expect(u).toMatch(/unicast_peer \{\n\s+10\.77\.0\.22\n\s+\}/);
    // A lone balancer has no peer: no unicast block (keepalived refuses one without peers).
    const inv = makeInventory();
    inv.hosts = inv.hosts.filter((h) => h.name !== 'lb2');
    const alone = (await plan(step, ctxFor(inv, 'lb1'), { addresses: parseIpAddr(IP_LB1) })) as FileResource[];
    const conf = alone.find((r) => r.path.endsWith('keepalived.conf'))!.content;
    expect(conf).not.toContain('unicast');
    expect(conf).toContain('virtual_ipaddress');
  });

  it('an interface that is not there is a user error naming the variable', async () => {
    const err = await files('lb1', {}, IP_VM).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.where.field).toBe('vars.keepalived_interface');
    expect((await files('lb1', { keepalived_interface: 'eth1' }, IP_VM)).conf.content).toContain('dev eth1');
  });

  it('router id is stable and in 1..255', async () => {
    // Both balancers render the same id, and it is the cluster name's FNV-1a hash mod 255, plus 1: a change of the
    // formula would move the VRRP router of every running cluster on upgrade.
    const ids = await Promise.all(
      ['lb1', 'lb2'].map(
        async (h) =>
          /virtual_router_id (\d+)/.exec(
            (await files(h, {}, IP_LB1.replace('10.77.0.21', h === 'lb1' ? '10.77.0.21' : '10.77.0.22'))).conf.content,
          )![1],
      ),
    );
    expect(ids).toEqual(['25', '25']);
    expect(['demo', 'prod', 'a', 'b', 'lab'].map(routerIdFor)).toEqual([25, 210, 71, 8, 75]);
    for (const n of ['a', 'b', 'prod', 'x'.repeat(40)]) {
      expect(routerIdFor(n)).toBeGreaterThanOrEqual(1);
      expect(routerIdFor(n)).toBeLessThanOrEqual(255);
    }
  });
});

describe('VIP check', () => {
  const inv = makeInventory();
  const withVip = (holders: string[], haproxy = 'active') =>
    new Map(
      inv.hosts.map((h) => [
        h.name,
        fakeTransport(h, (s) => {
          if (s.startsWith('ip -o -4 addr show'))
            return {
              stdout: `${IP_LB1.replace('10.77.0.21', h.address)}${holders.includes(h.name) ? `\n2: host0    inet 10.77.0.100/24 scope global secondary host0` : ''}`,
            };
          if (s.startsWith('systemctl is-active haproxy')) return { stdout: `${haproxy}\n` };
          if (s.includes(';csv')) return { stdout: 'HTTP/1.1 200 OK\r\n\r\n# pxname,svname\n' };
          return { stdout: 'log' };
        }),
      ]),
    );
  it('passes with the VIP on one host running HAProxy', async () => {
    await expect(verifyKeepalived(groupCtx(inv, withVip(['lb2'])), 500)).resolves.toBeUndefined();
  });
  it('fails on none, two, or a holder without HAProxy', async () => {
    for (const [holders, hp, text] of [
      [[], 'active', 'on 0 hosts'],
      [['lb1', 'lb2'], 'active', 'on 2 hosts'],
      [['lb1'], 'inactive', 'haproxy on lb1 is inactive'],
    ] as const) {
      const err = await verifyKeepalived(groupCtx(inv, withVip([...holders], hp)), 200).catch((e) => e);
      expect(err).toBeInstanceOf(CheckError);
      expect(err.actual).toContain(text);
    }
  });
});

describe('keepalived when a postgres host is added', () => {
  it('keeps the very same files (it depends on the balancers only)', async () => {
    const step = stepById(keepalivedSteps, 'keepalived.config');
    const inv = makeInventory();
    const before = await plan(step, ctxFor(inv, 'lb1'), { addresses: parseIpAddr(IP_LB1) });
    inv.hosts.push({ ...inv.hosts[0]!, name: 'pg4', address: '10.77.0.14', roles: ['postgres'] });
    const after = await plan(step, ctxFor(inv, 'lb1'), { addresses: parseIpAddr(IP_LB1) });
    expect(after).toEqual(before);
  });
});
