import { describe, expect, it } from 'vitest';
import { BASE, load } from './helpers.js';
import { inventorySchema } from '../../src/inventory/schema.js';
import { catalog } from '../../src/components/index.js';
import { parseSubnet, hostAddressProblem, firstHostAddress, ipv4ToInt } from '../../src/inventory/net.js';

/** Every property of every object schema, with its path. */
function properties(schema: unknown, path = ''): { path: string; schema: Record<string, unknown> }[] {
  if (!schema || typeof schema !== 'object') return [];
  const s = schema as Record<string, unknown>;
  const out: { path: string; schema: Record<string, unknown> }[] = [];
  for (const [k, v] of Object.entries((s.properties as Record<string, unknown>) ?? {})) {
    out.push({ path: `${path}.${k}`, schema: v as Record<string, unknown> }, ...properties(v, `${path}.${k}`));
  }
  for (const key of ['additionalProperties', 'items', 'then', 'else']) {
    if (s[key] && typeof s[key] === 'object')
      out.push(...properties(s[key], `${path}${key === 'additionalProperties' ? '.*' : key === 'items' ? '[]' : ''}`));
  }
  return out;
}

const schema = inventorySchema(catalog);
const DEFAULTS = Object.fromEntries(catalog.settings.map((d) => [d.name, d.default]));

describe('inventory schema', () => {
  it('documents every field', () => {
    const props = properties(schema);
    expect(props.length).toBeGreaterThan(60);
    const undocumented = props
      .filter((p) => typeof p.schema.description !== 'string' || (p.schema.description as string).length < 10)
      .map((p) => p.path);
    expect(undocumented).toEqual([]);
  });

  it('types and documents exactly the variables the components read, and accepts their defaults', () => {
    const known = schema.properties.vars.properties;
    expect(Object.keys(known)).toEqual(catalog.settings.map((d) => d.name));
    expect(Object.keys(known)).toContain('patroni_ttl');
    // The defaults themselves must pass the schema (catches a schema stricter than the components).
    // With a backup host: backup_* variables are refused without one.
    const withRepo = BASE + '  bk1: {address: 10.77.0.31, roles: [backup]}\n';
    const inv = load(withRepo.replace('hosts:', `vars: ${JSON.stringify(DEFAULTS)}\nhosts:`));
    expect(inv.vars).toEqual(JSON.parse(JSON.stringify(DEFAULTS)));
  });

  it('the vars description names every variable the components read', () => {
    const varsDoc = schema.properties.vars.description;
    for (const d of catalog.settings) expect(varsDoc).toContain(d.name);
    expect(varsDoc).toMatch(/host vars, then the host's groups in the order listed on the host .* then cluster vars/);
  });
});

describe('IPv4 helpers', () => {
  it('parses addresses strictly', () => {
    expect(ipv4ToInt('10.77.0.1')).toBe(0x0a4d0001);
    expect(ipv4ToInt('255.255.255.255')).toBe(0xffffffff);
    for (const bad of ['10.77.0', '10.77.0.256', '10.077.0.1', 'a.b.c.d', '1.2.3.4.5'])
      expect(ipv4ToInt(bad)).toBeUndefined();
  });

  it('subnets, host addresses, first address', () => {
    const s = parseSubnet('10.77.0.0/24');
    expect(s.ok).toBe(true);
    if (!s.ok) return;
    expect(firstHostAddress(s.subnet)).toBe('10.77.0.1');
    expect(hostAddressProblem('10.77.0.254', s.subnet)).toBeUndefined();
    expect(hostAddressProblem('10.77.0.0', s.subnet)).toMatch(/network address/);
    expect(hostAddressProblem('10.77.1.1', s.subnet)).toMatch(/outside the subnet 10.77.0.0\/24/);
    const small = parseSubnet('192.168.5.64/27');
    expect(small.ok && hostAddressProblem('192.168.5.95', small.subnet)).toMatch(/broadcast/);
    expect(small.ok && hostAddressProblem('192.168.5.96', small.subnet)).toMatch(/outside/);
    expect(parseSubnet('10.0.0.0/31')).toMatchObject({ ok: false, reason: expect.stringMatching(/out of range/) });
  });
});
