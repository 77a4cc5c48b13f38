// Whether a TCP port answers: how providers see that a host's sshd or a local service is up.
import { Socket } from 'node:net';

/** True when a TCP connection to address:port opens within timeoutMs. */
export function tcpOpen(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, address, () => done(true));
  });
}
