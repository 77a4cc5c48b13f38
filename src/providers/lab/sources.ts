// The control machine's apt sources: where the lab gets Debian from (the image, the package cache, the hosts).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { UserError } from '../../util/errors.js';

export interface AptSource {
  file: string;
  type: 'deb' | 'deb-src';
  uri: string;
  suite: string;
  components: string[];
}

export interface DebianMirror {
  /** Archive URI without trailing slash, e.g. http://deb.debian.org/debian */
  uri: string;
  components: string[];
  /** bookworm-updates is listed for the same archive. */
  updates: boolean;
  /** Security archive URI when the control machine lists <suite>-security. */
  security?: string;
  securityComponents?: string[];
}

const stripSlash = (u: string) => u.replace(/\/+$/, '');

/** One-line format: `deb [opt=val ...] URI SUITE [COMPONENT ...]` (comments and blank lines ignored). */
export function parseSourcesList(text: string, file = 'sources.list'): AptSource[] {
  const out: AptSource[] = [];
  for (const raw of text.split('\n')) {
    let line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const m = /^(deb|deb-src)\s+(.*)$/.exec(line);
    if (!m) continue;
    line = m[2].replace(/^\[[^\]]*\]\s*/, '');
    const [uri, suite, ...components] = line.split(/\s+/);
    if (!uri || !suite) continue;
    out.push({ file, type: m[1] as AptSource['type'], uri: stripSlash(uri), suite, components });
  }
  return out;
}

/** deb822 format (`*.sources`): paragraphs of `Field: value`, with `Enabled: no` honoured. */
export function parseDeb822(text: string, file = 'debian.sources'): AptSource[] {
  const out: AptSource[] = [];
  const paragraphs = text.split(/\n\s*\n/);
  for (const p of paragraphs) {
    const fields: Record<string, string> = {};
    let last = '';
    for (const raw of p.split('\n')) {
      if (/^\s*#/.test(raw) || !raw.trim()) continue;
      const cont = /^\s+(.*)$/.exec(raw);
      if (cont && last) {
        fields[last] += ' ' + cont[1].trim();
        continue;
      }
      const kv = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(raw);
      if (!kv) continue;
      last = kv[1].toLowerCase();
      fields[last] = kv[2].trim();
    }
    if (!fields.types || !fields.uris || !fields.suites) continue;
    if (/^(no|false|0)$/i.test(fields.enabled ?? '')) continue;
    const words = (s: string | undefined) => (s ?? '').split(/\s+/).filter(Boolean);
    for (const type of words(fields.types)) {
      if (type !== 'deb' && type !== 'deb-src') continue;
      for (const uri of words(fields.uris))
        for (const suite of words(fields.suites))
          out.push({ file, type, uri: stripSlash(uri), suite, components: words(fields.components) });
    }
  }
  return out;
}

/** Picks the Debian archive for `suite` (binary entries only) and its -updates/-security companions. */
export function findDebianMirror(sources: AptSource[], suite = 'bookworm'): DebianMirror | undefined {
  const debs = sources.filter((s) => s.type === 'deb' && /^https?:\/\//.test(s.uri));
  const main = debs.find((s) => s.suite === suite);
  if (!main) return undefined;
  const sec = debs.find((s) => s.suite === `${suite}-security` || s.suite === `${suite}/updates`);
  return {
    uri: main.uri,
    components: main.components.length ? main.components : ['main'],
    updates: debs.some((s) => s.suite === `${suite}-updates` && s.uri === main.uri),
    security: sec?.uri,
    securityComponents: sec ? (sec.components.length ? sec.components : ['main']) : undefined,
  };
}

/** Reads /etc/apt/sources.list and /etc/apt/sources.list.d/{*.list,*.sources} (other names are ignored, as apt does). */
export function readAptSources(root = '/etc/apt'): AptSource[] {
  const out: AptSource[] = [];
  const main = `${root}/sources.list`;
  if (existsSync(main)) out.push(...parseSourcesList(readFileSync(main, 'utf8'), main));
  const dir = `${root}/sources.list.d`;
  if (existsSync(dir)) {
    for (const name of readdirSync(dir).sort()) {
      const path = `${dir}/${name}`;
      if (name.endsWith('.list')) out.push(...parseSourcesList(readFileSync(path, 'utf8'), path));
      else if (name.endsWith('.sources')) out.push(...parseDeb822(readFileSync(path, 'utf8'), path));
    }
  }
  return out;
}

export function controlMachineMirror(root = '/etc/apt'): DebianMirror {
  const mirror = findDebianMirror(readAptSources(root));
  if (!mirror)
    throw new UserError(
      `no Debian bookworm archive found in ${root}/sources.list or ${root}/sources.list.d/`,
      'the lab builds its hosts from the same Debian mirror as this machine: add a `deb http://<mirror>/debian bookworm main` source',
      { file: `${root}/sources.list` },
    );
  return mirror;
}

/** http form of a mirror URI: the lab fetches through apt-cacher-ng, which proxies plain http. */
export function httpForm(uri: string): string {
  return uri.replace(/^https:\/\//, 'http://');
}
