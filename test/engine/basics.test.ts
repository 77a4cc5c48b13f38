import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { argvToShell, shq } from '../../src/engine/quote.js';
import { addSecret, mask } from '../../src/engine/mask.js';
import { loadSecrets } from '../../src/engine/secrets.js';
import { KnownHosts } from '../../src/engine/knownhosts.js';
import { renderTemplate } from '../../src/engine/template.js';
import { UserError } from '../../src/util/errors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'pgha-basics-'));

describe('quoting', () => {
  it('POSIX-quotes what a shell would split or expand', () => {
    expect(shq('plain-word_1.2')).toBe('plain-word_1.2');
    expect(shq("it's")).toBe(`'it'\\''s'`);
    expect(argvToShell(['echo', '$HOME', 'a b', ''])).toBe(`echo '$HOME' 'a b' ''`);
  });
  it('round-trips through sh', async () => {
    const args = ['a b', "c'd", '$(x)', '`y`', 'e\\f', '\n'];
    const out = await new Promise<string>((res) => {
      const p = spawn('sh', ['-c', `printf '%s|' ${argvToShell(args)}`]);
      let s = '';
      p.stdout.on('data', (d) => (s += d));
      p.on('close', () => res(s));
    });
    expect(out).toBe(args.join('|') + '|');
  });
});

describe('secrets', () => {
  it('generates once, keeps mode 0600, masks', () => {
    const f = join(tmp(), 'secrets.yml');
    const specs = [
      { key: 'db_password', length: 24 },
      { key: 'vrrp', length: 8 },
    ];
    const a = loadSecrets(f, specs, { check: false, env: {} });
    expect(a.db_password).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(a.vrrp).toHaveLength(8);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    const b = loadSecrets(f, specs, { check: false, env: {} });
    expect(b).toEqual(a);
    expect(mask(`password=${a.db_password}`)).toBe('password=********');
  });
  it('saves a value from the environment, so that a later run without it keeps it', () => {
    const f = join(tmp(), 'secrets.yml');
    const specs = [
      { key: 'db_password', length: 24 },
      { key: 'vrrp', length: 8 },
    ];
    const env = { PGHA_SECRET_DB_PASSWORD: 'from-env-123' };
    // In check mode it is used but not saved.
    expect(loadSecrets(f, specs, { check: true, env }).db_password).toBe('from-env-123');
    expect(existsSync(f)).toBe(false);
    const a = loadSecrets(f, specs, { check: false, env });
    expect(a.db_password).toBe('from-env-123');
    expect(statSync(f).mode & 0o777).toBe(0o600);
    const later = loadSecrets(f, specs, { check: false, env: {} });
    expect(later).toEqual(a);
    // The same value again is fine.
    expect(loadSecrets(f, specs, { check: false, env }).db_password).toBe('from-env-123');
    expect(mask('from-env-123')).toBe('********');
  });
  it('refuses a value from the environment that differs from the one in the file, and changes nothing', () => {
    const f = join(tmp(), 'secrets.yml');
    const specs = [{ key: 'db_password', length: 24 }];
    const a = loadSecrets(f, specs, { check: false, env: {} });
    const before = readFileSync(f, 'utf8');
    for (const check of [false, true]) {
      expect(() => loadSecrets(f, specs, { check, env: { PGHA_SECRET_DB_PASSWORD: 'another-value' } })).toThrow(
        `PGHA_SECRET_DB_PASSWORD differs from db_password in ${f}, the value the cluster uses`,
      );
    }
    expect(readFileSync(f, 'utf8')).toBe(before);
    expect(loadSecrets(f, specs, { check: false, env: {} })).toEqual(a);
  });
  it('refuses a secrets file that others may read, and leaves its mode alone', () => {
    const f = join(tmp(), 'secrets.yml');
    loadSecrets(f, [{ key: 'db_password', length: 24 }], { check: false, env: {} });
    for (const mode of [0o640, 0o604, 0o644]) {
      chmodSync(f, mode);
      expect(() => loadSecrets(f, [{ key: 'db_password', length: 24 }], { check: false, env: {} })).toThrow(
        `secrets file ${f} may be read by others (mode 0${mode.toString(8)})`,
      );
      expect(statSync(f).mode & 0o777).toBe(mode);
    }
    chmodSync(f, 0o400);
    expect(loadSecrets(f, [{ key: 'db_password', length: 24 }], { check: true, env: {} }).db_password).toHaveLength(24);
  });
  it('refuses a secret shorter than 4 characters, from the environment or the file', () => {
    const f = join(tmp(), 'secrets.yml');
    expect(() =>
      loadSecrets(f, [{ key: 'db_password', length: 24 }], { check: false, env: { PGHA_SECRET_DB_PASSWORD: 'abc' } }),
    ).toThrow('secret db_password (PGHA_SECRET_DB_PASSWORD) is shorter than 4 characters');
    writeFileSync(f, 'db_password: xy\n', { mode: 0o600 });
    expect(() => loadSecrets(f, [{ key: 'db_password', length: 24 }], { check: false, env: {} })).toThrow(UserError);
  });
  it('writes nothing in check mode', () => {
    const f = join(tmp(), 'secrets.yml');
    loadSecrets(f, [{ key: 'k', length: 10 }], { check: true, env: {} });
    expect(() => statSync(f)).toThrow();
  });
  it('masks a secret inside JSON output even when it holds a quote or a backslash', () => {
    const tricky = 'pa"ss\\word';
    addSecret(tricky);
    const doc = JSON.stringify({ diff: `+password: ${tricky}`, nested: [tricky] }, null, 2);
    expect(doc).not.toContain(tricky); // escaped in JSON: the raw value is not what appears
    const masked = mask(doc);
    expect(masked).not.toContain('pa\\"ss');
    expect(JSON.parse(masked)).toEqual({ diff: '+password: ********', nested: ['********'] });
    expect(mask(`raw ${tricky}`)).toBe('raw ********');
  });
  it('masks short secrets too', () => {
    addSecret('q7');
    expect(mask('x=q7;')).toBe('x=********;');
  });
  it('masks the longest secret first', () => {
    addSecret('abcd');
    addSecret('abcdefgh');
    expect(mask('x abcdefgh y abcd')).toBe('x ******** y ********');
  });
});

describe('known_hosts', () => {
  const key = (type: string, body: string) => {
    const t = Buffer.from(type);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(t.length);
    return Buffer.concat([len, t, Buffer.from(body)]);
  };
  it('records on first use, accepts the same key, refuses a changed one', () => {
    const kh = new KnownHosts(join(tmp(), 'known_hosts'));
    expect(kh.check('10.1.1.1', key('ssh-ed25519', 'one'))).toBe('new');
    expect(kh.check('10.1.1.1', key('ssh-ed25519', 'one'))).toBe('known');
    expect(kh.check('10.1.1.1', key('ssh-ed25519', 'two'))).toBe('changed');
    expect(kh.check('[10.1.1.1]:2222', key('ssh-ed25519', 'two'))).toBe('new');
    kh.forget(['10.1.1.1']);
    expect(kh.check('10.1.1.1', key('ssh-ed25519', 'two'))).toBe('new');
    expect(readFileSync(kh.file, 'utf8')).toMatch(/^\[10\.1\.1\.1\]:2222 ssh-ed25519 /m);
  });
  it('refuses a key of another type than the recorded one, and records nothing for it', () => {
    const kh = new KnownHosts(join(tmp(), 'known_hosts'));
    expect(kh.check('10.1.1.2', key('ssh-ed25519', 'one'))).toBe('new');
    const before = readFileSync(kh.file, 'utf8');
    expect(kh.check('10.1.1.2', key('ssh-rsa', 'other'))).toBe('changed');
    expect(kh.check('10.1.1.2', key('ecdsa-sha2-nistp256', 'other'))).toBe('changed');
    expect(readFileSync(kh.file, 'utf8')).toBe(before);
  });
  it('accepts every key type recorded from the host itself', () => {
    const kh = new KnownHosts(join(tmp(), 'known_hosts'));
    kh.check('10.1.1.3', key('ssh-ed25519', 'old'));
    kh.check('10.1.1.4', key('ssh-ed25519', 'neighbour'));
    kh.record('10.1.1.3', [key('ssh-ed25519', 'a'), key('ssh-rsa', 'b')]);
    expect(kh.check('10.1.1.3', key('ssh-rsa', 'b'))).toBe('known');
    expect(kh.check('10.1.1.3', key('ssh-ed25519', 'a'))).toBe('known');
    expect(kh.check('10.1.1.3', key('ssh-ed25519', 'old'))).toBe('changed');
    expect(kh.check('10.1.1.4', key('ssh-ed25519', 'neighbour'))).toBe('known');
  });
});

describe('templates', () => {
  it('renders strictly and names the template, line and variable when one is missing', () => {
    const d = tmp();
    writeFileSync(join(d, 't.hbs'), 'a={{a}}\nb={{b}}\n');
    expect(renderTemplate('t.hbs', { a: 1, b: 'x' }, [d])).toBe('a=1\nb=x\n');
    try {
      renderTemplate('t.hbs', { a: 1 }, [d]);
      expect.fail('should throw');
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      expect((e as Error).message).toMatch(/t\.hbs line 2: variable "b" is not defined/);
    }
  });
  it('reports a syntax error with its line', () => {
    const d = tmp();
    writeFileSync(join(d, 'bad.hbs'), 'ok\n{{#if x}}\nno end\n');
    expect(() => renderTemplate('bad.hbs', { x: 1 }, [d])).toThrow(/bad\.hbs line \d+/);
  });
});

describe('bounded waits', () => {
  it('stops early when waiting longer cannot help', async () => {
    const { waitFor } = await import('../../src/engine/wait.js');
    let n = 0;
    const r = await waitFor(async () => ({ ok: false, value: ++n }), {
      timeoutMs: 10_000,
      intervalMs: 10,
      stop: (v) => v >= 3,
    });
    expect(r.ok).toBe(false);
    expect(r.value).toBe(3);
    expect(r.elapsedMs).toBeLessThan(1000);
  });
});
