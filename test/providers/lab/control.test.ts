import { afterEach, describe, expect, it, vi } from 'vitest';
import { assertLabPlatform } from '../../../src/providers/lab/control.js';
import { isNspawnOf, nspawnArgv, labHost } from '../../../src/providers/lab/machine.js';
import { isCacheProcess } from '../../../src/providers/lab/cache.js';
import { UserError } from '../../../src/util/errors.js';
import type { Inventory } from '../../../src/inventory/types.js';

const inv = {
  file: '/srv/inv/demo.yml',
  dir: '/srv/inv',
  cluster: 'demo',
  subnet: '10.9.0.0/24',
  prefix: 24,
  provider: {
    type: 'lab',
    lab: { bridge: 'pgha-demo', bridgeAddress: '10.9.0.1', cachePort: 3142, stateDir: '/var/lib/pgha/labs/demo' },
  },
  hosts: [
    {
      name: 'pg1',
      address: '10.9.0.11',
      roles: [],
      groups: [],
      ssh: { user: 'root', port: 22, become: false },
      vars: {},
    },
  ],
  groups: {},
  vars: {},
  warnings: [],
} as Inventory;

afterEach(() => vi.restoreAllMocks());

describe('lab platform check', () => {
  it('refuses a non-root user with a hint', () => {
    vi.spyOn(process, 'getuid').mockReturnValue(1000);
    expect(() => assertLabPlatform()).toThrow(UserError);
    expect(() => assertLabPlatform()).toThrow(/needs root/);
  });

  it('refuses a platform other than Linux', () => {
    const orig = Object.getOwnPropertyDescriptor(process, 'platform')!;
    Object.defineProperty(process, 'platform', { value: 'darwin' });
    try {
      expect(() => assertLabPlatform()).toThrow(/needs Linux \(this is darwin\)/);
    } finally {
      Object.defineProperty(process, 'platform', orig);
    }
  });
});

describe('lab processes are recognised by their argv', () => {
  it('an nspawn process belongs to exactly its machine', () => {
    const h = labHost(inv, 'pg1');
    expect(h.machine).toBe('demo-pg1');
    expect(h.paths.root).toBe('/var/lib/pgha/labs/demo/hosts/pg1/root');
    const argv = nspawnArgv(h, 'pg1');
    expect(argv).toEqual(
      expect.arrayContaining([
        '--boot',
        '--register=no',
        '--keep-unit',
        '--resolv-conf=off',
        '--network-namespace-path=/run/netns/demo-pg1',
        '--capability=CAP_NET_ADMIN,CAP_NET_RAW',
      ]),
    );
    expect(isNspawnOf(argv, 'demo-pg1')).toBe(true);
    expect(isNspawnOf(argv, 'demo-pg')).toBe(false);
    expect(isNspawnOf(['/usr/bin/systemd-nspawn', '--machine=demo-pg1'], 'demo-pg1')).toBe(true);
    expect(isNspawnOf(['vim', '-M', 'demo-pg1'], 'demo-pg1')).toBe(false);
  });

  it('a cache process belongs to the lab whose config dir it was given', () => {
    expect(isCacheProcess(['apt-cacher-ng', '-c', '/s/cache/conf'], '/s/cache/conf')).toBe(true);
    expect(isCacheProcess(['/usr/sbin/apt-cacher-ng', '-c', '/other/conf'], '/s/cache/conf')).toBe(false);
    expect(isCacheProcess(['sleep', '/s/cache/conf'], '/s/cache/conf')).toBe(false);
  });
});
