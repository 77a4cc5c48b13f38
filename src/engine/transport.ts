// SSH transport: one connection per host, opened in parallel and reused for the whole run.
import { NodeSSH } from 'node-ssh';
import type { Host } from '../inventory/types.js';
import type { ExecOptions, ExecResult, Transport } from './types.js';
import { RemoteError, UserError } from '../util/errors.js';
import { KnownHosts, hostPattern } from './knownhosts.js';
import { addSecret, mask } from './mask.js';
import { KILL_AFTER_SEC, TIMED_OUT_CODES, remoteInvocation, timeoutSeconds } from './remote.js';
import { keyAuth } from './sshkey.js';
import { forwardOut } from './forward.js';
import { traceMark } from '../util/trace.js';
import type { Duplex } from 'node:stream';

export interface ConnectOptions {
  timeoutMs?: number;
  /** A stream to run SSH over instead of a TCP connection (from a jump host). */
  sock?: Duplex;
  /** The jump host's name, for messages. */
  via?: string;
}

export class SshTransport implements Transport {
  private ssh = new NodeSSH();
  private trips = 0;
  private constructor(readonly host: Host) {}

  get roundTrips(): number {
    return this.trips;
  }

  static async connect(host: Host, knownHosts: KnownHosts, opts: ConnectOptions = {}): Promise<SshTransport> {
    const t = new SshTransport(host);
    const address = host.ssh.hostName ?? host.address;
    const pattern = hostPattern(address, host.ssh.port);
    let changed = false;
    const where = `${host.ssh.user}@${address}:${host.ssh.port}${opts.via ? ` through the jump host ${opts.via}` : ''}`;
    const auth = keyAuth(host.name, host.ssh.keyFile);
    traceMark('first SSH connect');
    try {
      await t.ssh.connect({
        host: address,
        port: host.ssh.port,
        ...(opts.sock ? { sock: opts.sock } : {}),
        username: host.ssh.user,
        ...(auth.privateKey ? { privateKey: auth.privateKey } : {}),
        agent: auth.agent,
        readyTimeout: opts.timeoutMs ?? 15_000,
        keepaliveInterval: 10_000,
        hostVerifier: (key: Buffer) => {
          const verdict = knownHosts.check(pattern, key);
          changed = verdict === 'changed';
          return !changed;
        },
      } as Parameters<NodeSSH['connect']>[0]);
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      if (changed)
        throw new UserError(
          `${host.name}: the SSH host key ${pattern} offers is not one recorded for it: it CHANGED, or is of a type never recorded`,
          `if ${host.name} was rebuilt on purpose, remove its line from ${knownHosts.file}; otherwise find out who answers at ${address}`,
        );
      if (/authentication methods failed|auth/i.test(msg))
        throw new RemoteError(
          host.name,
          `SSH login as ${where} was refused (${msg})`,
          undefined,
          auth.encrypted
            ? `the key ${host.ssh.keyFile} has a passphrase: load it into the agent (ssh-add ${host.ssh.keyFile}); check that it is in ~${host.ssh.user}/.ssh/authorized_keys on the host`
            : `check ssh.user and ssh.key_file in the inventory, and that the key is in ~${host.ssh.user}/.ssh/authorized_keys on the host`,
        );
      throw new RemoteError(
        host.name,
        `cannot reach ${where} over SSH (${msg})`,
        undefined,
        opts.via
          ? `the jump host ${opts.via} answered but the SSH session to ${address} did not come up: check that sshd on ${host.name} listens on port ${host.ssh.port}`
          : `check that the host is up, that ${address} is right in the inventory and that sshd listens on port ${host.ssh.port}`,
      );
    }
    return t;
  }

  async exec(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    for (const s of opts.secrets ?? []) addSecret(s);
    this.trips++;
    const timeoutMs = opts.timeoutMs ?? 600_000;
    const sudo = this.host.ssh.user !== 'root' && this.host.ssh.become;
    const { command, input } = remoteInvocation(script, { stdin: opts.stdin, timeoutMs, sudo });
    let channel: { close(): void } | undefined;
    const started = Date.now();
    const run = this.ssh.execCommand(command, {
      stdin: input,
      onChannel: (c) => {
        channel = c;
      },
    });
    const timedOut = (onHost: boolean) =>
      new RemoteError(
        this.host.name,
        `a remote command did not finish within ${timeoutSeconds(timeoutMs)} s${onHost ? ' and was stopped on the host' : ''}`,
        mask(script.slice(0, 400)),
      );
    // `timeout` on the host ends the script; this timer only catches a host that stopped answering altogether.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          channel?.close();
          reject(timedOut(false));
        },
        timeoutMs + (KILL_AFTER_SEC + 10) * 1000,
      );
    });
    try {
      const r = await Promise.race([run, timeout]);
      const code = r.code ?? 255;
      if (TIMED_OUT_CODES.includes(code) && Date.now() - started >= timeoutSeconds(timeoutMs) * 1000)
        throw timedOut(true);
      return { stdout: r.stdout, stderr: r.stderr, code };
    } catch (e) {
      if (e instanceof RemoteError) throw e;
      throw new RemoteError(this.host.name, `the SSH connection failed: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.ssh.dispose();
  }

  /** A TCP stream to address:port opened by the remote host (this host as a jump host). */
  forward(address: string, port: number, timeoutMs = 15_000): Promise<Duplex> {
    return forwardOut(this.ssh, address, port, timeoutMs);
  }
}
