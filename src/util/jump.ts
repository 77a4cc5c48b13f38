// A jump host as written in an inventory or in ssh config's ProxyJump: [user@]host[:port].

/** One hop of a jump chain: [user@]host[:port]. */
export interface JumpSpec {
  user?: string;
  host: string;
  port?: number;
}

/** `[user@]host[:port]`; undefined when it is not of that form (or the port is out of range). */
export function parseJump(spec: string): JumpSpec | undefined {
  const m = /^(?:([^@\s]+)@)?(\[[0-9A-Fa-f:.]+\]|[^@:\s[\]]+)(?::(\d{1,5}))?$/.exec(spec.trim());
  if (!m) return undefined;
  const port = m[3] !== undefined ? Number(m[3]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  const host = m[2].replace(/^\[(.*)\]$/, '$1');
  return { ...(m[1] ? { user: m[1] } : {}), host, ...(port !== undefined ? { port } : {}) };
}
