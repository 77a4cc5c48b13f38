import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keyAuth, keyIsEncrypted } from '../../src/engine/sshkey.js';
import { UserError } from '../../src/util/errors.js';
import { SshTransport } from '../../src/engine/transport.js';
import { KnownHosts } from '../../src/engine/knownhosts.js';

const dir = mkdtempSync(join(tmpdir(), 'pgha-sshkey-'));
const PASSPHRASE = 'correct horse battery staple';

function keygen(name: string, args: string[]): string {
  const f = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-f', f, '-C', name, ...args]);
  return f;
}

const plain = keygen('plain', ['-t', 'ed25519', '-N', '']);
const encrypted = keygen('encrypted', ['-t', 'ed25519', '-N', PASSPHRASE]);
const encryptedPem = keygen('encrypted-pem', ['-t', 'ecdsa', '-m', 'PEM', '-N', PASSPHRASE]);
const plainPem = keygen('plain-pem', ['-t', 'ecdsa', '-m', 'PEM', '-N', '']);

describe('passphrase-protected keys', () => {
  const saved = process.env.SSH_AUTH_SOCK;
  afterEach(() => {
    if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
    else process.env.SSH_AUTH_SOCK = saved;
  });

  it('are recognised in OpenSSH and PEM formats', () => {
    expect(keyIsEncrypted(readFileSync(encrypted, 'utf8'))).toBe(true);
    expect(keyIsEncrypted(readFileSync(encryptedPem, 'utf8'))).toBe(true);
    expect(keyIsEncrypted(readFileSync(plain, 'utf8'))).toBe(false);
    expect(keyIsEncrypted(readFileSync(plainPem, 'utf8'))).toBe(false);
  });

  it('without an agent: a UserError saying to ssh-add the key, with no key material or passphrase in it', () => {
    let err: unknown;
    try {
      keyAuth('pg1', encrypted, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    const e = err as UserError;
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(
      `pg1: SSH key file ${encrypted} is protected by a passphrase and no ssh-agent is available (SSH_AUTH_SOCK is not set)`,
    );
    expect(e.hint).toContain(`ssh-add ${encrypted}`);
    const body = readFileSync(encrypted, 'utf8').split('\n')[1];
    for (const text of [e.message, e.hint ?? '']) {
      expect(text).not.toContain(PASSPHRASE);
      expect(text).not.toContain(body.slice(0, 20));
    }
  });

  it('with an agent: only the agent is used for an encrypted key; a plain key is offered beside the agent', () => {
    expect(keyAuth('pg1', encrypted, { SSH_AUTH_SOCK: '/run/agent.sock' })).toEqual({
      agent: '/run/agent.sock',
      encrypted: true,
    });
    const a = keyAuth('pg1', plain, { SSH_AUTH_SOCK: '/run/agent.sock' });
    expect(a.agent).toBe('/run/agent.sock');
    expect(a.privateKey).toBe(readFileSync(plain, 'utf8'));
    expect(keyAuth('pg1', plain, {})).toEqual({ privateKey: readFileSync(plain, 'utf8') });
    expect(keyAuth('pg1', undefined, { SSH_AUTH_SOCK: '/run/agent.sock' })).toEqual({ agent: '/run/agent.sock' });
    expect(keyAuth('pg1', undefined, {})).toEqual({});
  });

  it('a missing key file is a UserError', () => {
    expect(() => keyAuth('pg1', join(dir, 'absent'), {})).toThrow(
      `pg1: SSH key file ${join(dir, 'absent')} does not exist`,
    );
  });

  it('SshTransport.connect refuses an encrypted key without an agent before connecting', async () => {
    delete process.env.SSH_AUTH_SOCK;
    const known = join(dir, 'known_hosts');
    const host = {
      name: 'pg1',
      address: '127.0.0.1',
      roles: [],
      groups: [],
      vars: {},
      ssh: { user: 'root', port: 1, become: false, keyFile: encrypted },
    };
    const connecting = SshTransport.connect(host, new KnownHosts(known), { timeoutMs: 2000 });
    await expect(connecting).rejects.toBeInstanceOf(UserError);
    await expect(connecting).rejects.toThrow(/is protected by a passphrase.*SSH_AUTH_SOCK is not set/);
  });
});
