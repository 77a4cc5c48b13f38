// Test helpers: a strict handlebars renderer over templates/, a hand-built inventory, fake contexts.
import type { Runner } from '../../src/engine/runner.js';
import { testRunner as engineRunner } from '../engine/local-transport.js';
import { renderTemplate } from '../../src/engine/template.js';
import type { Host, Inventory, Role } from '../../src/inventory/types.js';
import type { Facts, Resource, Step, StepContext, StepGroupContext, Transport } from '../../src/engine/types.js';

/** The engine's own renderer (strict handlebars over templates/). */
export function render(name: string, vars: Record<string, unknown>): string {
  return renderTemplate(name, vars);
}

export const SECRETS: Record<string, string> = {
  postgres_superuser_password: 'SuPerPw0rdAaaaaaaaaaaaaaaaaaaaa1',
  replication_password: 'RePlPw0rdBbbbbbbbbbbbbbbbbbbbbb2',
  rewind_password: 'ReWindPw0rdCccccccccccccccccccc3',
  patroni_api_password: 'ApiPw0rdDddddddddddddddddddddd4',
  vrrp_password: 'VrRp5678',
  pgbouncer_auth_password: 'PgBoUncerPw0rdFfffffffffffffffff6',
  haproxy_stats_password: 'StAtSPw0rdEeeeeeeeeeeeeeeeeeeee5',
};

function host(name: string, address: string, roles: Role[], vars: Record<string, unknown> = {}): Host {
  return { name, address, roles, groups: [...roles, 'all'], ssh: { user: 'root', port: 22, become: false }, vars };
}

/** 3 postgres+etcd hosts, 2 haproxy hosts, VIP .100 in 10.77.0.0/24. */
export function makeInventory(vars: Record<string, unknown> = {}): Inventory {
  const hosts = [
    host('pg1', '10.77.0.11', ['etcd', 'postgres'], vars),
    host('pg2', '10.77.0.12', ['etcd', 'postgres'], vars),
    host('pg3', '10.77.0.13', ['etcd', 'postgres'], vars),
    host('lb1', '10.77.0.21', ['haproxy'], vars),
    host('lb2', '10.77.0.22', ['haproxy'], vars),
  ];
  const groups: Record<string, string[]> = { all: hosts.map((h) => h.name) };
  for (const r of ['etcd', 'postgres', 'haproxy'] as Role[])
    groups[r] = hosts.filter((h) => h.roles.includes(r)).map((h) => h.name);
  return {
    file: '/tmp/pgha-test/lab.yml',
    dir: '/tmp/pgha-test',
    cluster: 'demo',
    subnet: '10.77.0.0/24',
    prefix: 24,
    vip: '10.77.0.100',
    provider: { type: 'static' },
    hosts,
    groups,
    vars,
    warnings: [],
  };
}

export function ctxFor(
  inv: Inventory,
  name: string,
  opts: { check?: boolean; secrets?: Record<string, string> } = {},
): StepContext {
  const h = inv.hosts.find((x) => x.name === name);
  if (!h) throw new Error(`no host ${name}`);
  return {
    host: h,
    inventory: inv,
    hosts: inv.hosts,
    secrets: opts.secrets ?? SECRETS,
    render,
    check: opts.check ?? true,
    log: () => {},
  };
}

export function groupCtx(inv: Inventory, transports: Map<string, Transport>, hosts = inv.hosts): StepGroupContext {
  return { inventory: inv, hosts, transports, secrets: SECRETS, check: false, log: () => {}, changedInRun: () => [] };
}

export async function plan(step: Step, ctx: StepContext, facts: Facts): Promise<Resource[]> {
  return await step.resources(ctx, facts);
}

export function stepById(steps: Step[], id: string): Step {
  const s = steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id}`);
  return s;
}

/** A transport that answers scripted commands (first matching pattern wins); records every script. */
export function fakeTransport(
  h: Host,
  answer: (script: string) => { stdout?: string; stderr?: string; code?: number },
): Transport & { scripts: string[] } {
  const scripts: string[] = [];
  return {
    host: h,
    scripts,
    roundTrips: 0,
    async exec(script) {
      scripts.push(script);
      const a = answer(script);
      return { stdout: a.stdout ?? '', stderr: a.stderr ?? '', code: a.code ?? 0 };
    },
    async close() {},
  };
}

/** A Runner over these transports with the test secrets, its notification records in a temp folder. */
export function testRunner(
  inv: Inventory,
  transports: Map<string, Transport>,
  check: boolean,
  log: (line: string, host?: string) => void = () => {},
): Runner {
  return engineRunner(inv, transports, { check, secrets: SECRETS, log });
}
