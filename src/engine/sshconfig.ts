// OpenSSH client configuration (~/.ssh/config) for hosts the inventory does not fully describe: HostName, User,
// Port, IdentityFile and ProxyJump, matched against the inventory host's name and address. Parsing and pattern
// matching are the ssh-config package's; values keep OpenSSH's rule that the first one obtained wins.
import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { resolve } from 'node:path';
import SSHConfig, { glob, type Line } from 'ssh-config';
import { UserError } from '../util/errors.js';
import { parseJump, type JumpSpec } from '../util/jump.js';

/** Environment variable naming the ssh config file to read instead of ~/.ssh/config. */
export const SSH_CONFIG_ENV = 'PGHA_SSH_CONFIG';

export interface SshConfigFile {
  file: string;
  config: SSHConfig;
}

/** What ssh config says about one host (only what it sets). */
export interface SshConfigValues {
  hostName?: string;
  user?: string;
  port?: number;
  identityFiles: string[];
  /** ProxyJump as written (tokens not expanded yet): `none` or comma-separated [user@]host[:port]. */
  proxyJump?: string;
}

/** The ssh config file to read: $PGHA_SSH_CONFIG, else ~/.ssh/config. Undefined when it does not exist. */
export function loadSshConfig(env: NodeJS.ProcessEnv = process.env): SshConfigFile | undefined {
  const given = env[SSH_CONFIG_ENV];
  const file = given ? resolve(expandHome(given)) : resolve(homedir(), '.ssh', 'config');
  if (!existsSync(file)) {
    if (given)
      throw new UserError(
        `ssh config ${file} (from ${SSH_CONFIG_ENV}) does not exist`,
        `fix ${SSH_CONFIG_ENV} or unset it to read ~/.ssh/config`,
      );
    return undefined;
  }
  return parseSshConfig(file, readFileSync(file, 'utf8'));
}

export function parseSshConfig(file: string, text: string): SshConfigFile {
  try {
    return { file, config: SSHConfig.parse(text) };
  } catch (e) {
    throw new UserError(
      `cannot read ssh config ${file}: ${(e as Error).message}`,
      `fix the file, or point ${SSH_CONFIG_ENV} at another one`,
    );
  }
}

/** A ProxyJump value: `none`, or comma-separated hops. Throws a UserError naming the file on a bad hop. */
export function parseProxyJump(value: string, file: string): JumpSpec[] {
  if (value.trim().toLowerCase() === 'none') return [];
  return value.split(',').map((hop) => {
    const j = parseJump(hop);
    if (!j)
      throw new UserError(
        `ssh config ${file}: ProxyJump '${value}' is not a list of [user@]host[:port]`,
        'fix the ProxyJump line (or write ProxyJump none)',
      );
    return j;
  });
}

function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? resolve(homedir(), p.slice(2)) : p;
}

/** A Host line applies when one of its patterns matches the name or the address and no negated pattern does. */
function hostLineMatches(patterns: string[], names: string[]): boolean {
  const negated = patterns.filter((p) => p.startsWith('!')).map((p) => p.slice(1));
  if (negated.some((p) => names.some((n) => glob(p, n)))) return false;
  return patterns.some((p) => !p.startsWith('!') && names.some((n) => glob(p, n)));
}

function patternsOf(line: Line): string[] {
  if (!('value' in line)) return [];
  const v = line.value;
  return Array.isArray(v) ? v.map((x) => x.val) : v.split(/[\s,]+/).filter(Boolean);
}

/**
 * Settings for a host known by `name` and `address`: Host sections match either, Match sections are evaluated by
 * the package (without running `Match exec` commands). Tokens: HostName %h; IdentityFile and ProxyJump %h %p %r
 * %n %u %d %%; IdentityFile ~ is the home directory.
 */
export function sshConfigFor(cfg: SshConfigFile, name: string, address: string): SshConfigValues {
  // Host sections are decided here (either name may match); the package then computes the first-wins values.
  const view = new SSHConfig();
  for (const line of cfg.config) {
    if ('param' in line && /^host$/i.test(line.param)) {
      if (hostLineMatches(patternsOf(line), [name, address])) view.push({ ...line, value: '*' } as Line);
    } else view.push(line);
  }
  const c = view.compute(name, { ignoreCase: true, matchExec: false });
  const one = (k: string): string | undefined => {
    const v = c[k];
    const s = Array.isArray(v) ? v[0] : v;
    return typeof s === 'string' && s !== '' ? s : undefined;
  };
  const out: SshConfigValues = { identityFiles: [] };
  const hostNameRaw = one('hostname');
  if (hostNameRaw) out.hostName = tokens(hostNameRaw, { h: name, '%': '%' });
  const user = one('user');
  if (user) out.user = user;
  const portRaw = one('port');
  if (portRaw !== undefined) {
    const port = Number(portRaw);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new UserError(
        `ssh config ${cfg.file}: Port '${portRaw}' for ${name} is not a port number`,
        'fix the Port line',
      );
    out.port = port;
  }
  const jump = one('proxyjump');
  if (jump) out.proxyJump = jump;
  const ids = c.identityfile;
  out.identityFiles = (Array.isArray(ids) ? ids : ids ? [ids] : []).filter(
    (x): x is string => typeof x === 'string' && x !== '',
  );
  return out;
}

/** Expand %-tokens; an unknown token is left as it is. */
export function tokens(text: string, values: Record<string, string | undefined>): string {
  return text.replace(/%(.)/g, (all, t: string) => values[t] ?? all);
}

/** The values of the tokens OpenSSH allows in IdentityFile and ProxyJump, for one resolved host. */
export function tokenValues(t: { name: string; hostName: string; port: number; user: string }): Record<string, string> {
  let local = process.env.USER ?? '';
  try {
    local = userInfo().username;
  } catch {
    // no passwd entry: keep $USER
  }
  return { '%': '%', h: t.hostName, n: t.name, p: String(t.port), r: t.user, u: local, d: homedir() };
}

/** An IdentityFile value as a path: tokens, then ~ (a relative path stays relative to the working directory, as for ssh). */
export function identityPath(raw: string, values: Record<string, string>): string {
  return resolve(expandHome(tokens(raw, values)));
}
