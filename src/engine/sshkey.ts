// How a connection authenticates: the key file of the inventory (or ssh config) and/or ssh-agent.
// A key protected by a passphrase is used only through the agent: pgha never asks for passphrases.
import { readFileSync } from 'node:fs';
import { UserError } from '../util/errors.js';

const OPENSSH_MAGIC = 'openssh-key-v1\0';

/** True when the private key text is protected by a passphrase (OpenSSH or PEM format). */
export function keyIsEncrypted(text: string): boolean {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text) || /^Proc-Type:\s*4,ENCRYPTED/m.test(text)) return true;
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (!m) return false;
  const blob = Buffer.from(m[1].replace(/\s+/g, ''), 'base64');
  if (blob.subarray(0, OPENSSH_MAGIC.length).toString('latin1') !== OPENSSH_MAGIC) return false;
  const len = blob.readUInt32BE(OPENSSH_MAGIC.length);
  const cipher = blob.subarray(OPENSSH_MAGIC.length + 4, OPENSSH_MAGIC.length + 4 + len).toString('ascii');
  return cipher !== 'none';
}

export interface KeyAuth {
  /** Private key text to offer (never logged). */
  privateKey?: string;
  /** ssh-agent socket to use. */
  agent?: string;
  /** The key file is protected by a passphrase (so only the agent can use it). */
  encrypted?: boolean;
}

/**
 * The agent when SSH_AUTH_SOCK is set (also beside a key file: a key whose identity is loaded in the agent works),
 * and the key file unless it is protected by a passphrase. An encrypted key without an agent is a UserError.
 */
export function keyAuth(hostName: string, keyFile: string | undefined, env: NodeJS.ProcessEnv = process.env): KeyAuth {
  const agent = env.SSH_AUTH_SOCK || undefined;
  if (!keyFile) return agent ? { agent } : {};
  let text: string;
  try {
    text = readFileSync(keyFile, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new UserError(
        `${hostName}: SSH key file ${keyFile} does not exist`,
        'fix ssh.key_file in the inventory (or IdentityFile in the ssh config)',
      );
    throw new UserError(
      `${hostName}: cannot read SSH key file ${keyFile} (${code ?? (e as Error).message})`,
      "check the file's permissions (run pgha as the user who owns the key)",
    );
  }
  if (!keyIsEncrypted(text)) return { privateKey: text, ...(agent ? { agent } : {}) };
  if (agent) return { agent, encrypted: true };
  throw new UserError(
    `${hostName}: SSH key file ${keyFile} is protected by a passphrase and no ssh-agent is available (SSH_AUTH_SOCK is not set)`,
    `start an agent and load the key into it: eval "$(ssh-agent)" && ssh-add ${keyFile} (pgha does not ask for passphrases)`,
  );
}
