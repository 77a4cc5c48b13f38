import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  SUDOERS_DROP_IN,
  cloudUserFiles,
  ensureHome,
  readAccountFiles,
  withUser,
  type AccountFiles,
} from '../../../src/providers/lab/users.js';
import { syncFiles } from '../../../src/providers/lab/machine.js';
import { ProviderError } from '../../../src/util/errors.js';

// Account databases as debootstrap leaves them on Debian 12 (a subset, with the groups that matter).
const BASE: AccountFiles = {
  passwd:
    [
      'root:x:0:0:root:/root:/bin/bash',
      'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
      'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
      'sshd:x:101:65534::/run/sshd:/usr/sbin/nologin',
    ].join('\n') + '\n',
  group:
    ['root:x:0:', 'daemon:x:1:', 'sudo:x:27:', 'shadow:x:42:', 'users:x:100:', 'nogroup:x:65534:'].join('\n') + '\n',
  shadow:
    [
      'root:*:20787:0:99999:7:::',
      'daemon:*:20787:0:99999:7:::',
      'nobody:*:20787:0:99999:7:::',
      'sshd:!:20787::::::',
    ].join('\n') + '\n',
  gshadow: ['root:*::', 'daemon:*::', 'sudo:*::', 'shadow:*::', 'users:*::', 'nogroup:*::'].join('\n') + '\n',
};
const DAY = 20_800;
const line = (text: string, name: string) => text.split('\n').find((l) => l.startsWith(`${name}:`));

describe('cloud-init user accounts', () => {
  it('adds the user with its own group, a home, /bin/bash, no password, and makes it a member of sudo', () => {
    const { files, account } = withUser(BASE, 'debian', DAY);
    expect(account).toEqual({ name: 'debian', uid: 1000, gid: 1000, home: '/home/debian' });
    expect(line(files.passwd, 'debian')).toBe('debian:x:1000:1000:debian:/home/debian:/bin/bash');
    expect(line(files.group, 'debian')).toBe('debian:x:1000:');
    expect(line(files.group, 'sudo')).toBe('sudo:x:27:debian');
    expect(line(files.shadow, 'debian')).toBe(`debian:*:${DAY}:0:99999:7:::`);
    expect(line(files.gshadow, 'sudo')).toBe('sudo:*::debian');
    expect(line(files.passwd, 'root')).toBe('root:x:0:0:root:/root:/bin/bash');
  });

  it('is idempotent and keeps other members of sudo', () => {
    const withAdmin = {
      ...BASE,
      group: BASE.group.replace('sudo:x:27:', 'sudo:x:27:admin'),
      gshadow: BASE.gshadow.replace('sudo:*::', 'sudo:*::admin'),
    };
    const once = withUser(withAdmin, 'debian', DAY);
    const twice = withUser(once.files, 'debian', DAY + 5);
    expect(twice.files).toEqual(once.files);
    expect(twice.account).toEqual(once.account);
    expect(line(once.files.group, 'sudo')).toBe('sudo:x:27:admin,debian');
    expect(line(once.files.gshadow, 'sudo')).toBe('sudo:*::admin,debian');
  });

  it('takes the first id not used by a user or a group', () => {
    const busy = {
      ...BASE,
      passwd: BASE.passwd + 'alice:x:1000:1000::/home/alice:/bin/bash\n',
      group: BASE.group + 'alice:x:1000:\nstaff2:x:1001:\n',
    };
    const { account } = withUser(busy, 'debian', DAY);
    expect(account.uid).toBe(1002);
    expect(account.gid).toBe(1002);
  });

  it('refuses root, bad names and a system without group sudo', () => {
    expect(() => withUser(BASE, 'root')).toThrow(ProviderError);
    expect(() => withUser(BASE, 'Bad:Name')).toThrow(ProviderError);
    expect(() => withUser({ ...BASE, group: BASE.group.replace('sudo:x:27:\n', '') }, 'debian')).toThrow(
      /no group sudo/,
    );
  });

  it('the account databases it writes pass pwck; groups and their shadow entries stay consistent', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-users-'));
    const { files } = withUser(BASE, 'debian', DAY);
    for (const [k, v] of Object.entries(files)) writeFileSync(join(dir, k), v);
    const pw = spawnSync('pwck', ['-r', '-q', join(dir, 'passwd'), join(dir, 'shadow')], { encoding: 'utf8' });
    expect(pw.error).toBeUndefined();
    expect(pw.stdout + pw.stderr).toBe('');
    expect(pw.status).toBe(0);
    // (grpck checks members against the control machine's own users, so the group files are checked here.)
    const groups = files.group
      .trim()
      .split('\n')
      .map((l) => l.split(':'));
    const gshadow = files.gshadow
      .trim()
      .split('\n')
      .map((l) => l.split(':'));
    expect(groups.every((g) => g.length === 4)).toBe(true);
    expect(new Set(groups.map((g) => g[2])).size).toBe(groups.length);
    expect(gshadow.map((g) => g[0])).toEqual(groups.map((g) => g[0]));
    const users = new Set(
      files.passwd
        .trim()
        .split('\n')
        .map((l) => l.split(':')[0]),
    );
    for (const g of [...groups, ...gshadow])
      for (const m of g[3]!.split(',').filter(Boolean)) expect(users.has(m)).toBe(true);
  });

  it("the file set: accounts, a 0440 sudoers drop-in, and the keys in the user's ~/.ssh only", () => {
    const { files, account } = cloudUserFiles(BASE, 'debian', 'ssh-ed25519 AAAA one\nssh-ed25519 BBBB two\n', DAY);
    expect(files.map((f) => `${f.path} ${f.mode.toString(8)}`)).toEqual([
      '/etc/passwd 644',
      '/etc/group 644',
      '/etc/shadow 640',
      '/etc/gshadow 640',
      `${SUDOERS_DROP_IN} 440`,
      '/home/debian/.ssh/authorized_keys 600',
    ]);
    expect(files.find((f) => f.path === '/etc/shadow')!.owner).toEqual({ uid: 0, gid: 42 });
    const keys = files.find((f) => f.path.endsWith('authorized_keys'))!;
    expect(keys).toMatchObject({
      owner: { uid: account.uid, gid: account.gid },
      dirMode: 0o700,
      content: 'ssh-ed25519 AAAA one\nssh-ed25519 BBBB two\n',
    });
    expect(files.some((f) => f.path.startsWith('/root/'))).toBe(false);
    const sudoers = files.find((f) => f.path === SUDOERS_DROP_IN)!.content;
    expect(sudoers.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual(['debian ALL=(ALL) NOPASSWD:ALL']);
  });

  it('written into a root: home from /etc/skel, .ssh 0700 and authorized_keys 0600 owned by the user', () => {
    const root = mkdtempSync(join(tmpdir(), 'pgha-root-'));
    mkdirSync(join(root, 'etc/skel'), { recursive: true });
    for (const [k, v] of Object.entries(BASE)) writeFileSync(join(root, 'etc', k), v);
    writeFileSync(join(root, 'etc/skel/.bashrc'), '# bashrc\n');
    // As root the new account's ids (1000); unprivileged, an account with the caller's own ids (chown to self).
    const privileged = process.getuid!() === 0;
    const uid = privileged ? 1000 : process.getuid!();
    const gid = privileged ? 1000 : process.getgid!();
    const accounts = privileged
      ? BASE
      : { ...BASE, passwd: BASE.passwd + `debian:x:${uid}:${gid}:debian:/home/debian:/bin/bash\n` };
    const { files, account } = cloudUserFiles(accounts, 'debian', 'ssh-ed25519 AAAA one\n', DAY);
    expect(account).toMatchObject({ uid, gid });
    ensureHome(root, account);
    const written = syncFiles(root, files);
    expect(written).toContain('/home/debian/.ssh/authorized_keys');
    expect(readFileSync(join(root, 'home/debian/.bashrc'), 'utf8')).toBe('# bashrc\n');
    const ssh = statSync(join(root, 'home/debian/.ssh'));
    const ak = statSync(join(root, 'home/debian/.ssh/authorized_keys'));
    expect([ssh.mode & 0o777, ssh.uid, ssh.gid]).toEqual([0o700, uid, gid]);
    expect([ak.mode & 0o777, ak.uid, ak.gid]).toEqual([0o600, uid, gid]);
    expect(statSync(join(root, SUDOERS_DROP_IN)).mode & 0o777).toBe(0o440);
    expect(readAccountFiles(root).passwd).toContain(`debian:x:${uid}:${gid}:`);
    expect(syncFiles(root, files)).toEqual([]); // nothing left to write
    expect(
      execFileSync('ls', ['-A', join(root, 'home/debian')], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean)
        .sort(),
    ).toEqual(['.bashrc', '.ssh']);
  });
});
