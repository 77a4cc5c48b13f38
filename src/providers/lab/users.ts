// A login user as cloud-init makes it on Debian cloud images (users: default, with sudo): an account with a home
// and /bin/bash, member of group sudo, passwordless sudo through /etc/sudoers.d/90-cloud-init-users, and the SSH
// keys in its own ~/.ssh/authorized_keys. Written into a host's root before its first boot.
import { chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { ProviderError } from '../../util/errors.js';
import type { HostFile } from './machine.js';

export const SUDOERS_DROP_IN = '/etc/sudoers.d/90-cloud-init-users';

/** The account databases of a root file system (/etc/passwd, group, shadow, gshadow). */
export interface AccountFiles {
  passwd: string;
  group: string;
  shadow: string;
  gshadow: string;
}

export interface UserAccount {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

const NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const FIRST_ID = 1000;
const LAST_ID = 59999;

export function validUserName(name: string): boolean {
  return NAME.test(name);
}

const rows = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split(':'));
const joinRows = (r: string[][]) => r.map((x) => x.join(':')).join('\n') + '\n';

function freeId(taken: Set<number>): number {
  for (let id = FIRST_ID; id <= LAST_ID; id++) if (!taken.has(id)) return id;
  throw new ProviderError(`no free user id between ${FIRST_ID} and ${LAST_ID}`);
}

function addMember(row: string[], index: number, user: string): void {
  const members = (row[index] ?? '').split(',').filter(Boolean);
  if (!members.includes(user)) members.push(user);
  row[index] = members.join(',');
}

/**
 * The account files with `user` present (its own group, member of sudo) and the account; files that are already
 * right come back unchanged, so a second call on its own output changes nothing.
 */
export function withUser(
  files: AccountFiles,
  user: string,
  today = Math.floor(Date.now() / 86_400_000),
): { files: AccountFiles; account: UserAccount } {
  if (!validUserName(user) || user === 'root')
    throw new ProviderError(`"${user}" is not a login name a cloud-init user can have`);
  const passwd = rows(files.passwd);
  const group = rows(files.group);
  const shadow = rows(files.shadow);
  const gshadow = rows(files.gshadow);
  if (!group.some((g) => g[0] === 'sudo'))
    throw new ProviderError('the host has no group sudo (is the sudo package installed?)');

  let own = group.find((g) => g[0] === user);
  let pw = passwd.find((p) => p[0] === user);
  if (!own) {
    const taken = new Set(group.map((g) => Number(g[2])));
    const gid = pw ? Number(pw[3]) : freeId(new Set([...taken, ...passwd.map((p) => Number(p[2]))]));
    own = [user, 'x', String(gid), ''];
    group.push(own);
  }
  if (!pw) {
    const uidsTaken = new Set(passwd.map((p) => Number(p[2])));
    const uid = uidsTaken.has(Number(own[2])) ? freeId(uidsTaken) : Number(own[2]);
    pw = [user, 'x', String(uid), own[2]!, user, `/home/${user}`, '/bin/bash'];
    passwd.push(pw);
  }
  if (!shadow.some((s) => s[0] === user)) shadow.push([user, '*', String(today), '0', '99999', '7', '', '', '']);
  if (!gshadow.some((g) => g[0] === user)) gshadow.push([user, '!', '', '']);
  addMember(
    group.find((g) => g[0] === 'sudo')!,
    3,
    user,
  );
  const sudoShadow = gshadow.find((g) => g[0] === 'sudo');
  if (sudoShadow) addMember(sudoShadow, 3, user);

  return {
    files: { passwd: joinRows(passwd), group: joinRows(group), shadow: joinRows(shadow), gshadow: joinRows(gshadow) },
    account: { name: user, uid: Number(pw[2]), gid: Number(pw[3]), home: pw[5] || `/home/${user}` },
  };
}

export function renderSudoersDropIn(user: string): string {
  return `# Passwordless sudo for the cloud-init user\n${user} ALL=(ALL) NOPASSWD:ALL\n`;
}

/** Every file the cloud-init user needs, for syncFiles: account databases, sudoers drop-in, authorized_keys. */
export function cloudUserFiles(
  current: AccountFiles,
  user: string,
  authorizedKeys: string,
  today?: number,
): { files: HostFile[]; account: UserAccount } {
  const { files, account } = withUser(current, user, today);
  const shadowGid = Number(rows(files.group).find((g) => g[0] === 'shadow')?.[2] ?? 0);
  const owner = { uid: account.uid, gid: account.gid };
  return {
    account,
    files: [
      { path: '/etc/passwd', content: files.passwd, mode: 0o644 },
      { path: '/etc/group', content: files.group, mode: 0o644 },
      { path: '/etc/shadow', content: files.shadow, mode: 0o640, owner: { uid: 0, gid: shadowGid } },
      { path: '/etc/gshadow', content: files.gshadow, mode: 0o640, owner: { uid: 0, gid: shadowGid } },
      { path: SUDOERS_DROP_IN, content: renderSudoersDropIn(user), mode: 0o440 },
      { path: `${account.home}/.ssh/authorized_keys`, content: authorizedKeys, mode: 0o600, owner, dirMode: 0o700 },
    ],
  };
}

export function readAccountFiles(root: string): AccountFiles {
  const read = (f: string) => readFileSync(`${root}/etc/${f}`, 'utf8');
  return {
    passwd: read('passwd'),
    group: read('group'),
    shadow: read('shadow'),
    gshadow: existsSync(`${root}/etc/gshadow`) ? read('gshadow') : '',
  };
}

/** The home directory (0755, the user's, with /etc/skel's files on creation), as `useradd -m` makes it. */
export function ensureHome(root: string, account: UserAccount): void {
  const home = `${root}${account.home}`;
  if (!existsSync(home)) {
    mkdirSync(home, { recursive: true, mode: 0o755 });
    const skel = `${root}/etc/skel`;
    if (existsSync(skel)) {
      for (const f of readdirSync(skel)) {
        if (!statSync(`${skel}/${f}`).isFile()) continue;
        copyFileSync(`${skel}/${f}`, `${home}/${f}`);
        chownSync(`${home}/${f}`, account.uid, account.gid);
      }
    }
  }
  chownSync(home, account.uid, account.gid);
}
