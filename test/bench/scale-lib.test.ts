// The pure parts of the scale benchmark: statistics, the table, inventories for N hosts, Ansible's recap, GNU time.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ansibleInventory,
  ansibleNoopProblem,
  ansibleRecap,
  labHosts,
  parseGnuTime,
  pghaInventory,
  resultTable,
  stats,
} from '../../bench/scale-lib.js';
import { loadInventory } from '../../src/inventory/load.js';
import { catalog } from '../../src/components/index.js';

describe('scale benchmark', () => {
  it('min / median / max, the median of an even count being the mean of the middle two', () => {
    expect(stats([3, 1, 2])).toEqual({ min: 1, median: 2, max: 3 });
    expect(stats([4, 1, 3, 2])).toEqual({ min: 1, median: 2.5, max: 4 });
    expect(stats([7])).toEqual({ min: 7, median: 7, max: 7 });
    expect(() => stats([])).toThrow(/no values/);
  });

  it('N hosts with names and addresses in the /24, refused outside 1..200', () => {
    const hosts = labHosts(50, '10.231.36.0/24');
    expect(hosts).toHaveLength(50);
    expect(hosts[0]).toEqual({ name: 'h01', address: '10.231.36.11' });
    expect(hosts[49]).toEqual({ name: 'h50', address: '10.231.36.60' });
    expect(new Set(hosts.map((h) => h.address)).size).toBe(50);
    expect(labHosts(120, '10.1.2.0/24')[119]).toEqual({ name: 'h120', address: '10.1.2.130' });
    expect(() => labHosts(0, '10.1.2.0/24')).toThrow();
    expect(() => labHosts(5, '10.1.0.0/16')).toThrow(/give a \/24/);
  });

  it('the pgha inventory of N hosts loads as N lab hosts without roles', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-scale-'));
    const file = join(dir, 'scale.yml');
    writeFileSync(file, pghaInventory('pgha-scale', '10.231.36.0/24', labHosts(50, '10.231.36.0/24')));
    const inv = loadInventory(file, catalog);
    expect(inv.provider.type).toBe('lab');
    expect(inv.hosts).toHaveLength(50);
    expect(inv.hosts.every((h) => h.roles.length === 0)).toBe(true);
    expect(inv.hosts[49]).toMatchObject({ name: 'h50', address: '10.231.36.60' });
    expect(inv.hosts[0].ssh.user).toBe('root');
  });

  it('the Ansible inventory lists every host with its address, and quotes the SSH arguments', () => {
    const text = ansibleInventory('pgha-scale', labHosts(3, '10.9.9.0/24'), {
      key: '/x/.pgha/scale/id_ed25519',
      knownHosts: '/x/.pgha/scale/known_hosts',
    });
    const lines = text.split('\n');
    expect(lines.filter((l) => / ansible_host=/.test(l))).toEqual([
      'h01 ansible_host=10.9.9.11',
      'h02 ansible_host=10.9.9.12',
      'h03 ansible_host=10.9.9.13',
    ]);
    expect(lines).toContain('ansible_ssh_private_key_file=/x/.pgha/scale/id_ed25519');
    expect(lines).toContain(
      'ansible_ssh_common_args="-o UserKnownHostsFile=/x/.pgha/scale/known_hosts -o GlobalKnownHostsFile=/dev/null"',
    );
    expect(lines).toContain('cluster=pgha-scale');
  });

  it("reads Ansible's recap and tells a clean no-op from a run that changed or failed", () => {
    const out = [
      'PLAY RECAP *********************************************************************',
      'h01                        : ok=5    changed=0    unreachable=0    failed=0    skipped=0    rescued=0    ignored=0',
      'h02                        : ok=4    changed=1    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0',
      '',
    ].join('\n');
    const recap = ansibleRecap(out);
    expect(recap).toEqual([
      { host: 'h01', ok: 5, changed: 0, unreachable: 0, failed: 0 },
      { host: 'h02', ok: 4, changed: 1, unreachable: 0, failed: 1 },
    ]);
    expect(ansibleNoopProblem(recap.slice(0, 1), 1)).toBeUndefined();
    expect(ansibleNoopProblem(recap, 2)).toBe('1 host changed or failed: h02 changed=1 unreachable=0 failed=1');
    expect(ansibleNoopProblem(recap.slice(0, 1), 2)).toBe('the recap lists 1 hosts, not 2');
  });

  it("reads GNU time's elapsed seconds and peak RSS, also after the child's own stderr", () => {
    expect(parseGnuTime('2.31 91234\n')).toEqual({ elapsed: 2.31, maxRssKiB: 91234 });
    expect(parseGnuTime('Command exited with non-zero status 1\n0.50 40000\n')).toEqual({
      elapsed: 0.5,
      maxRssKiB: 40000,
    });
    expect(() => parseGnuTime('garbage')).toThrow(/unexpected GNU time output/);
  });

  it('the table gives min / median / max per tool and size, the ratio of medians and the peak RSS', () => {
    const t = resultTable([
      { hosts: 5, pgha: [1.2, 1.0, 1.1], ansible: [2.0, 2.4, 2.2], pghaMaxRssKiB: [80 * 1024, 90 * 1024, 85 * 1024] },
      { hosts: 50, pgha: [3.0, 4.0, 5.0, 6.0], ansible: [6.0, 8.0, 10.0, 12.0], pghaMaxRssKiB: [150 * 1024] },
    ]).split('\n');
    expect(t).toHaveLength(4);
    expect(t[0]).toMatch(/^\| hosts \| runs \| pgha no-op/);
    expect(t[2]).toBe('| 5 | 3 | 1.00 / 1.10 / 1.20 | 2.00 / 2.20 / 2.40 | 0.50 | 90 MiB |');
    expect(t[3]).toBe('| 50 | 4 | 3.00 / 4.50 / 6.00 | 6.00 / 9.00 / 12.00 | 0.50 | 150 MiB |');
  });
});
