// A TCP stream opened by a remote host on our behalf (ssh -W): how hosts behind a jump host are reached.
import type { Duplex } from 'node:stream';
import type { NodeSSH } from 'node-ssh';

export function forwardOut(ssh: NodeSSH, address: string, port: number, timeoutMs: number): Promise<Duplex> {
  const client = ssh.connection;
  if (!client) return Promise.reject(new Error('the connection is closed'));
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(new Error(`no TCP connection to ${address}:${port} within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    client.forwardOut('127.0.0.1', 0, address, port, (err: Error | undefined, stream: Duplex) => {
      clearTimeout(timer);
      if (done) {
        stream?.destroy();
        return;
      }
      done = true;
      if (err) reject(err);
      else resolve(stream);
    });
  });
}
