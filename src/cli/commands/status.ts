// pgha status: provider state of each host, then members, HAProxy backends, the VIP holder and etcd health;
// with --endpoints, the cluster's metrics endpoints instead.
import { Runner } from '../../engine/runner.js';
import { collectStatus, formatStatus } from '../status.js';
import { type GlobalOptions, connectAll, openSession } from '../session.js';
import type { Out } from '../output.js';
import { checkEndpointOptions, endpoints } from '../endpoints.js';

export async function status(g: GlobalOptions, out: Out, o: { endpoints?: boolean; format?: string } = {}) {
  const format = checkEndpointOptions(o);
  if (format) return endpoints(g, out, format);
  const s = await openSession(g, 'status', { check: true, lock: false, onExec: out.exec });
  try {
    const hosts = await s.provider.status(s.inv);
    const state = (name: string) => hosts.find((x) => x.host === name)?.state;
    const running = s.hosts.filter((h) => state(h.name) !== 'absent' && state(h.name) !== 'stopped');
    try {
      await connectAll(s, running);
    } catch (e) {
      out.info(`(some hosts did not answer: ${(e as Error).message})`);
    }
    const runner = new Runner({
      inventory: s.inv,
      secrets: s.secrets,
      transports: s.transports,
      check: true,
      diff: false,
      events: {},
    });
    const result = await collectStatus(runner.groupContext(running.filter((h) => s.transports.has(h.name))));
    out.info(hosts.map((h) => `${h.host.padEnd(12)} ${h.state}${h.detail ? `  ${h.detail}` : ''}`).join('\n'));
    out.info('');
    out.info(formatStatus(result));
    return { ok: true, hosts, status: result };
  } finally {
    await s.close();
  }
}
