// The checked-in PVE API schema subset: it covers every call the provider makes, the simulator rejects anything outside
// it with PVE's texts, a missing file fails at once, and the generator's --check notices a stale subset.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '../../../src/providers/proxmox/client.js';
import { world } from './fixture.js';
import { handlers } from './sim/handlers.js';
import { ENDPOINTS, extract, stableJson } from './sim/pve-schema.mjs';
import { ApiSchema, SUBSET_PATH, type MethodInfo, type SchemaSubset } from './sim/schema.js';
import { PveSim } from './sim/server.js';

const GENERATOR = new URL('./sim/pve-schema.mjs', import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), 'pgha-subset-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('schema subset file', () => {
  const schema = new ApiSchema();

  it("holds exactly the generator's endpoint list, which is the simulator's route table", () => {
    expect(schema.endpoints()).toEqual([...ENDPOINTS].sort());
    expect(Object.keys(handlers).sort()).toEqual(schema.endpoints());
  });

  it("is in the generator's stable form and names its source", () => {
    const text = readFileSync(SUBSET_PATH, 'utf8');
    expect(stableJson(JSON.parse(text))).toBe(text);
    expect(schema.subset.source['api']).toMatch(/^Proxmox VE 9\.1 /);
    expect(schema.subset.source['origin']).toContain('pve-docs, api-viewer/apidata.js');
  });

  it('keeps the indexed keys with their range', () => {
    const props = schema.subset.endpoints['/nodes/{node}/qemu/{vmid}/config']!['POST']!.parameters.properties!;
    expect(props['scsi[n]']!.indexMax).toBe(30);
    expect(props['net[n]']!.indexMax).toBe(31);
    expect(props['ipconfig[n]']).toMatchObject({ format: 'pve-qm-ipconfig', indexMax: 31 });
    expect(Object.keys(props['net[n]']!.format as object)).toEqual(
      expect.arrayContaining(['bridge', 'virtio', 'model', 'mtu']),
    );
  });
});

describe('validation against the subset', () => {
  const v = new ApiSchema();

  it('rejects an endpoint PVE has but the subset does not keep, and a wrong method, with 501', () => {
    expect(v.validate('GET', '/nodes/pve1/qemu/101/pending', {})).toEqual({
      ok: false,
      status: 501,
      reason: "Method 'GET /nodes/pve1/qemu/101/pending' not implemented",
      errors: {},
    });
    expect(v.validate('POST', '/nodes/pve1/qemu/101/status/current', {})).toMatchObject({ ok: false, status: 501 });
  });

  it("rejects an unknown parameter and a malformed value with PVE's texts", () => {
    expect(v.validate('POST', '/nodes/pve1/qemu/101/status/shutdown', { forceStop: '1', force: '1' })).toMatchObject({
      ok: false,
      status: 400,
      reason: 'Parameter verification failed.',
      errors: { force: 'property is not defined in schema and the schema does not allow additional properties' },
    });
    expect(v.validate('GET', '/cluster/nextid', { vmid: '1000000000' })).toMatchObject({
      status: 400,
      errors: { vmid: 'invalid format - value does not look like a valid VM ID\n' },
    });
    expect(v.validate('POST', '/nodes/pve1/qemu/101/config', { ipconfig0: 'gw=10.0.0.1' })).toMatchObject({
      status: 400,
      errors: {
        ipconfig0: "invalid format - format error\nipconfig0.ip: missing property required by 'ipconfig0.gw'\n",
      },
    });
  });
});

describe('the provider stays inside the subset', () => {
  it('up, re-run, DHCP, down, start again, status and destroy send only endpoints and parameters of the subset', async () => {
    const w = await world();
    try {
      const dhcp = w.inv.hosts[2]!;
      dhcp.proxmox!.ip = 'dhcp';
      w.sim.hooks.onStart = (vm) => {
        if (vm.cloudInit.ipconfig0 !== 'ip=dhcp') return;
        const mac = /=([0-9A-F:]{17})/i.exec(vm.config['net0']!)![1]!.toLowerCase();
        return {
          interfaces: [
            {
              name: 'eth0',
              'hardware-address': mac,
              'ip-addresses': [{ 'ip-address': '127.0.0.13', 'ip-address-type': 'ipv4', prefix: 8 }],
            },
          ],
        };
      };
      await w.up();
      await w.up();
      await w.provider.down(w.inv, { check: false, log: () => {} });
      await w.up();
      await w.provider.status(w.inv);
      expect(await w.provider.destroy(w.inv, { check: false, log: () => {} })).toHaveLength(3);

      const schema = new ApiSchema();
      const used = new Set<string>();
      for (const r of w.sim.requests) {
        const res = schema.validate(r.method, r.path, r.params);
        expect(res, `${r.method} ${r.path} ${JSON.stringify(r.params)}`).toMatchObject({ ok: true });
        if (res.ok) used.add(`${r.method} ${res.route.template}`);
      }
      expect(w.sim.invalid).toEqual([]);
      // The flows reach the calls the provider makes, so a parameter added to any of them is checked here.
      expect([...used].sort()).toEqual(
        expect.arrayContaining([
          'DELETE /nodes/{node}/qemu/{vmid}',
          'GET /cluster/nextid',
          'GET /cluster/resources',
          'GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces',
          'GET /nodes/{node}/qemu/{vmid}/config',
          'GET /nodes/{node}/tasks/{upid}/status',
          'POST /nodes/{node}/qemu/{vmid}/clone',
          'POST /nodes/{node}/qemu/{vmid}/config',
          'POST /nodes/{node}/qemu/{vmid}/status/shutdown',
          'POST /nodes/{node}/qemu/{vmid}/status/start',
          'PUT /nodes/{node}/qemu/{vmid}/resize',
        ]),
      );
    } finally {
      await w.close();
    }
  });

  it('records a call outside the subset and an unknown parameter as invalid, answered as PVE does', async () => {
    const w = await world();
    try {
      const c = createClient(w.inv.provider.proxmox!.api, { backoffMs: 1, attempts: 1, pollMs: 10 });
      try {
        await expect(c.api.nodes.$('pve1').qemu.$(9000).pending.$get()).rejects.toThrow(
          /501 Method 'GET \/nodes\/pve1\/qemu\/9000\/pending' not implemented/,
        );
        await expect(
          c.api.nodes
            .$('pve1')
            .qemu.$(9000)
            .clone.$post({ newid: 150, cores: 2 } as never),
        ).rejects.toThrow(/400 Parameter verification failed/);
      } finally {
        await c.close();
      }
      expect(w.sim.invalid.map((r) => [r.method, r.path, r.status, r.errors])).toEqual([
        ['GET', '/nodes/pve1/qemu/9000/pending', 501, undefined],
        [
          'POST',
          '/nodes/pve1/qemu/9000/clone',
          400,
          { cores: 'property is not defined in schema and the schema does not allow additional properties' },
        ],
      ]);
      expect(w.sim.st.vms.has(150)).toBe(false);
    } finally {
      await w.close();
    }
  });
});

describe('a missing or broken subset file', () => {
  const missing = join(tmp, 'nowhere', 'apidata-subset.json');

  it('fails at once with how to restore it', async () => {
    expect(() => new ApiSchema(missing)).toThrow(
      `the Proxmox API schema subset ${missing} does not exist: it is part of the repository`,
    );
    await expect(new PveSim({ schemaFile: missing }).start()).rejects.toThrow(
      /does not exist: .*npm run pve-schema -- PATH\/TO\/apidata\.json/,
    );
    const broken = join(tmp, 'broken.json');
    writeFileSync(broken, '{"endpoints": ');
    expect(() => new ApiSchema(broken)).toThrow(/is not readable JSON/);
  });
});

/** A full-schema tree that holds the subset's endpoints (with prose, as upstream has) and one more. */
function fullTreeFromSubset(subset: SchemaSubset): unknown[] {
  const nodes = Object.entries(subset.endpoints).map(([path, methods]) => ({
    path,
    text: path.split('/').pop(),
    leaf: 1,
    info: Object.fromEntries(Object.entries(methods).map(([m, info]) => [m, upstreamInfo(m, info)])),
  }));
  nodes.push({
    path: '/version',
    text: 'version',
    leaf: 1,
    info: { GET: upstreamInfo('GET', { parameters: { additionalProperties: 0, properties: {} } }) },
  });
  return [{ path: '/cluster', text: 'cluster', leaf: 0, children: nodes }];
}

function upstreamInfo(method: string, info: MethodInfo): unknown {
  const props = Object.fromEntries(
    Object.entries(info.parameters.properties ?? {}).map(([k, p]) => {
      const { indexMax, ...rest } = p;
      const description = indexMax === undefined ? `The ${k} option.` : `The ${k} option (n is 0 to ${indexMax}).`;
      return [k, { ...rest, description, typetext: '<string>' }];
    }),
  );
  return {
    method,
    name: 'x',
    description: 'Some call.',
    allowtoken: 1,
    proxyto: 'node',
    returns: { type: 'null' },
    parameters: { ...info.parameters, properties: props },
    ...(info.permissions ? { permissions: { ...info.permissions, description: 'Who may.' } } : {}),
  };
}

describe('generator', () => {
  const subset = JSON.parse(readFileSync(SUBSET_PATH, 'utf8')) as SchemaSubset;

  it('keeps only the listed endpoints and the fields validation reads, and names a missing endpoint', () => {
    const tree = fullTreeFromSubset(subset);
    const out = extract(tree, ['GET /cluster/nextid', 'POST /nodes/{node}/qemu/{vmid}/config']);
    expect(Object.keys(out.endpoints).sort()).toEqual(['/cluster/nextid', '/nodes/{node}/qemu/{vmid}/config']);
    const cfg = (out.endpoints['/nodes/{node}/qemu/{vmid}/config'] as Record<string, MethodInfo>)['POST']!;
    expect(Object.keys(cfg).sort()).toEqual(['parameters', 'permissions']);
    expect(cfg.parameters.properties!['scsi[n]']).not.toHaveProperty('description');
    expect(cfg.parameters.properties!['scsi[n]']!.indexMax).toBe(30);
    expect(() => extract(tree, ['GET /nodes/{node}/qemu/{vmid}/pending'])).toThrow(
      'GET /nodes/{node}/qemu/{vmid}/pending is not in the input schema',
    );
  });

  it('--check passes on an input that gives the checked-in file and fails when the input changed', () => {
    const tree = fullTreeFromSubset(subset);
    const full = join(tmp, 'apidata.json');
    writeFileSync(full, JSON.stringify(tree));
    const ok = execFileSync(process.execPath, [GENERATOR, '--check', full], { encoding: 'utf8' });
    expect(ok).toContain('is up to date');

    const clone = (
      tree[0] as {
        children: { path: string; info: Record<string, { parameters: { properties: Record<string, unknown> } }> }[];
      }
    ).children.find((n) => n.path === '/nodes/{node}/qemu/{vmid}/clone')!;
    clone.info['POST']!.parameters.properties['cores'] = { type: 'integer', optional: 1, description: 'A new option.' };
    writeFileSync(full, JSON.stringify(tree));
    const stale = spawnSync(process.execPath, [GENERATOR, '--check', full], { encoding: 'utf8' });
    expect(stale.status).toBe(1);
    expect(stale.stderr).toContain(`${SUBSET_PATH} is not what ${full} gives: run npm run pve-schema`);
    expect(readFileSync(SUBSET_PATH, 'utf8')).toBe(stableJson(subset)); // --check writes nothing
  });
});
