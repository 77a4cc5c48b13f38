// service: a systemd unit enabled/disabled and started/stopped as asked (a failed unit is reset-failed before a start).
import { shq } from '../quote.js';
import type { Kind } from './kind.js';

export interface ServiceResource {
  kind: 'service';
  name: string; // systemd unit name without .service
  enabled?: boolean;
  state?: 'started' | 'stopped';
}

export interface ServiceState {
  enabled: string;
  active: string;
}
export interface ServiceProbe {
  kind: 'service';
  state: ServiceState;
}
export type ServiceOp = { op: 'enable' | 'disable' | 'start' | 'stop' };

/** `systemctl is-enabled` answers that mean the unit starts at boot (or is pulled in by another). */
const ENABLED = ['enabled', 'enabled-runtime', 'static', 'alias', 'indirect', 'generated'];

export const serviceKind: Kind<ServiceResource, ServiceProbe, ServiceOp> = {
  kind: 'service',
  describe: (r) => `service ${r.name}`,
  identity: (r) => `svc ${r.name}`,
  tags: 'S',
  probe(r, i) {
    const n = shq(r.name);
    return `echo "S ${i} $(systemctl is-enabled ${n} 2>/dev/null | head -1 || :) $(systemctl is-active ${n} 2>/dev/null | head -1 || :)"`;
  },
  unprobed: () => ({ kind: 'service', state: { enabled: 'unknown', active: 'unknown' } }),
  read(p, tag, rest) {
    const f = rest.split(' ');
    if (tag === 'S') p.state = { enabled: f[0] || 'unknown', active: f[1] || 'unknown' };
  },
  plan(r, p) {
    const ops: ServiceOp[] = [];
    const words: string[] = [];
    const enabled = ENABLED.includes(p.state.enabled);
    if (r.enabled === true && !enabled) {
      ops.push({ op: 'enable' });
      words.push('enable');
    }
    if (r.enabled === false && p.state.enabled === 'enabled') {
      ops.push({ op: 'disable' });
      words.push('disable');
    }
    const active = p.state.active === 'active' || p.state.active === 'reloading' || p.state.active === 'activating';
    if (r.state === 'started' && !active) {
      ops.push({ op: 'start' });
      words.push(p.state.active === 'failed' ? 'start (was failed)' : 'start');
    }
    if (r.state === 'stopped' && active) {
      ops.push({ op: 'stop' });
      words.push('stop');
    }
    return ops.length ? { summary: `${words.join(' + ')} ${r.name}`, ops } : undefined;
  },
  script(r, op) {
    const n = shq(r.name);
    return op.op === 'start'
      ? `systemctl reset-failed ${n} 2>/dev/null || :\nsystemctl start ${n}`
      : `systemctl ${op.op} ${n}`;
  },
  failure: (r) => ({ unit: r.name }),
  started: (r, op) => (op.op === 'start' ? r.name : undefined),
};
