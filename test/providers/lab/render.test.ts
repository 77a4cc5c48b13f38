import { describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  controlMachineMirror,
  findDebianMirror,
  parseDeb822,
  parseSourcesList,
  readAptSources,
} from '../../../src/providers/lab/sources.js';
import {
  imageDir,
  imageRecipe,
  labMac,
  machineName,
  recipeHash,
  renderAcngConf,
  renderAptProxy,
  renderBackends,
  renderEtcHosts,
  renderSourcesList,
  vethName,
} from '../../../src/providers/lab/render.js';
import { UserError } from '../../../src/util/errors.js';

const DEB822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://src.example/debian
Suites: bookworm
Components: main
`;

describe('apt sources', () => {
  it('parses deb822 paragraphs, one entry per URI and suite', () => {
    const s = parseDeb822(DEB822);
    expect(s.map((x) => `${x.type} ${x.uri} ${x.suite} ${x.components.join(',')}`)).toEqual([
      'deb http://deb.debian.org/debian bookworm main',
      'deb http://deb.debian.org/debian bookworm-updates main',
      'deb http://deb.debian.org/debian-security bookworm-security main,contrib',
      'deb-src http://src.example/debian bookworm main',
    ]);
  });

  it('skips paragraphs with Enabled: no', () => {
    expect(parseDeb822('Types: deb\nURIs: http://a/debian\nSuites: bookworm\nEnabled: no\n')).toEqual([]);
  });

  it('parses one-line sources with options and comments', () => {
    const s = parseSourcesList(
      '# deb http://commented/debian bookworm main\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian/ bookworm main contrib # trailing\ndeb-src http://mirror.example/debian bookworm main\nnonsense line\n',
    );
    expect(s).toEqual([
      {
        file: 'sources.list',
        type: 'deb',
        uri: 'http://mirror.example/debian',
        suite: 'bookworm',
        components: ['main', 'contrib'],
      },
      {
        file: 'sources.list',
        type: 'deb-src',
        uri: 'http://mirror.example/debian',
        suite: 'bookworm',
        components: ['main'],
      },
    ]);
  });

  it('finds the bookworm archive with its updates and security companions, ignoring other repositories', () => {
    const s = [
      ...parseSourcesList('deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n'),
      ...parseDeb822(DEB822),
    ];
    expect(findDebianMirror(s)).toEqual({
      uri: 'http://deb.debian.org/debian',
      components: ['main'],
      updates: true,
      security: 'http://deb.debian.org/debian-security',
      securityComponents: ['main', 'contrib'],
    });
    expect(findDebianMirror(parseSourcesList('deb http://x/debian bullseye main\n'))).toBeUndefined();
  });

  it('reads sources.list and *.list/*.sources from a directory, ignoring other file names', () => {
    const root = mkdtempSync(join(tmpdir(), 'pgha-apt-'));
    mkdirSync(join(root, 'sources.list.d'));
    writeFileSync(join(root, 'sources.list.d', 'debian.sources'), DEB822);
    writeFileSync(join(root, 'sources.list.d', 'other.list.disabled'), 'deb http://wrong/debian bookworm main\n');
    writeFileSync(join(root, 'sources.list.d', 'extra.list'), 'deb http://extra/debian trixie main\n');
    expect(readAptSources(root).map((x) => x.uri)).not.toContain('http://wrong/debian');
    expect(controlMachineMirror(root).uri).toBe('http://deb.debian.org/debian');
    const empty = mkdtempSync(join(tmpdir(), 'pgha-apt-'));
    expect(() => controlMachineMirror(empty)).toThrow(UserError);
  });
});

describe('lab names and files', () => {
  it('machine names are prefixed by the cluster, hostname-safe and bounded; veth names fit 15 characters', () => {
    expect(machineName('demo', 'pg1')).toBe('demo-pg1');
    expect(machineName('My_Cluster', 'PG.1')).toBe('my-cluster-pg-1');
    const long = machineName('c'.repeat(40), 'h'.repeat(40));
    expect(long.length).toBeLessThanOrEqual(56);
    expect(long).not.toBe(machineName('c'.repeat(40), 'h'.repeat(39) + 'x'));
    expect(vethName('demo-pg1')).toMatch(/^pgv[0-9a-f]{8}$/);
    expect(vethName('demo-pg1')).not.toBe(vethName('demo-pg2'));
  });

  it('the recipe hash changes with the recipe and not with package order', () => {
    const m = { uri: 'http://deb.debian.org/debian', components: ['main'], updates: true };
    const r = imageRecipe(m);
    expect(recipeHash(r)).toMatch(/^[0-9a-f]{12}$/);
    expect(recipeHash({ ...r, packages: [...r.packages].reverse() })).toBe(recipeHash(r));
    expect(recipeHash({ ...r, packages: [...r.packages, 'vim'] })).not.toBe(recipeHash(r));
    expect(recipeHash(imageRecipe({ ...m, uri: 'http://other/debian' }))).not.toBe(recipeHash(r));
    expect(imageDir(r)).toBe(`/var/lib/pgha/images/bookworm-${recipeHash(r)}`);
    expect(r.packages).toEqual(
      expect.arrayContaining([
        'systemd',
        'systemd-sysv',
        'dbus',
        'openssh-server',
        'iproute2',
        'python3',
        'sudo',
        'ca-certificates',
      ]),
    );
  });

  it('/etc/hosts has localhost and every lab host', () => {
    const text = renderEtcHosts([
      { name: 'pg1', address: '10.0.0.11' },
      { name: 'pg2', address: '10.0.0.12' },
    ]);
    expect(text).toMatch(/^127\.0\.0\.1\tlocalhost$/m);
    expect(text).toMatch(/^10\.0\.0\.11\tpg1$/m);
    expect(text).toMatch(/^10\.0\.0\.12\tpg2$/m);
  });

  it('apt proxy and sources point at the cache and the same mirror (http)', () => {
    expect(renderAptProxy('10.0.0.1', 3142)).toBe('Acquire::http::Proxy "http://10.0.0.1:3142";\n');
    expect(
      renderSourcesList({
        uri: 'https://deb.debian.org/debian',
        components: ['main'],
        updates: true,
        security: 'http://deb.debian.org/debian-security',
      }),
    ).toBe(
      'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n',
    );
    expect(renderSourcesList({ uri: 'http://m/debian', components: ['main', 'contrib'], updates: false })).toBe(
      'deb http://m/debian bookworm main contrib\n',
    );
  });

  it('apt-cacher-ng gets a configuration of its own', () => {
    const conf = renderAcngConf({
      cacheDir: '/c',
      logDir: '/l',
      bindAddress: '10.0.0.1',
      port: 3142,
      pidFile: '/p',
      socketPath: '/s',
      securityRemap: true,
    });
    for (const line of [
      'CacheDir: /c',
      'LogDir: /l',
      'BindAddress: 10.0.0.1',
      'Port: 3142',
      'ForeGround: 1',
      'SocketPath: /s',
      'PidFile: /p',
    ])
      expect(conf.split('\n')).toContain(line);
    expect(conf).toMatch(/^Remap-debrep: file:deb_mirror\*\.gz \/debian ; file:backends_debian$/m);
    expect(conf).toMatch(/^Remap-secdeb: .* ; file:backends_debian_security$/m);
    expect(
      renderAcngConf({ cacheDir: '/c', logDir: '/l', bindAddress: 'a', port: 1, pidFile: '/p', socketPath: '/s' }),
    ).not.toContain('secdeb');
    expect(renderBackends('http://deb.debian.org/debian//')).toBe('http://deb.debian.org/debian/\n');
  });
});

describe('lab MAC addresses', () => {
  it('are stable, unicast, locally administered and distinct per interface', () => {
    // 02 then the first five bytes of sha256('demo-pg1/host0'): the same on every run and machine.
    expect(labMac('demo-pg1/host0')).toBe('02:df:1f:25:d7:60');
    expect(labMac('demo-pg1/host0')).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    expect(labMac('demo-pg1/host0')).not.toBe(labMac('demo-pg2/host0'));
    expect(labMac('demo-pg1/host0')).not.toBe(labMac('demo-pg1/veth'));
  });
});
