#!/usr/bin/env node
// Makes apidata-subset.json: the part of the official Proxmox VE API schema (pve-docs api-viewer/apidata.js,
// converted to JSON) that pgha's Proxmox provider and the simulator use, reduced to what request validation needs.
//   npm run pve-schema -- PATH/apidata.json           write the subset
//   npm run pve-schema -- --check PATH/apidata.json   exit 1 if the checked-in subset differs from a fresh one
import { readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SUBSET_PATH = join(dirname(fileURLToPath(import.meta.url)), 'apidata-subset.json');

/** Every call the provider makes and the simulator answers: "METHOD /path/template". */
export const ENDPOINTS = [
  'GET /access/permissions',
  'GET /cluster/resources',
  'GET /cluster/nextid',
  'GET /cluster/ha/resources',
  'POST /cluster/ha/resources',
  'DELETE /cluster/ha/resources/{sid}',
  'GET /cluster/ha/rules',
  'POST /cluster/ha/rules',
  'DELETE /cluster/ha/rules/{rule}',
  'GET /nodes',
  'GET /nodes/{node}/qemu',
  'GET /nodes/{node}/qemu/{vmid}/config',
  'POST /nodes/{node}/qemu/{vmid}/config',
  'PUT /nodes/{node}/qemu/{vmid}/config',
  'POST /nodes/{node}/qemu/{vmid}/clone',
  'PUT /nodes/{node}/qemu/{vmid}/resize',
  'POST /nodes/{node}/qemu/{vmid}/status/start',
  'POST /nodes/{node}/qemu/{vmid}/status/stop',
  'POST /nodes/{node}/qemu/{vmid}/status/shutdown',
  'GET /nodes/{node}/qemu/{vmid}/status/current',
  'GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces',
  'DELETE /nodes/{node}/qemu/{vmid}',
  'GET /nodes/{node}/network',
  'GET /nodes/{node}/storage/{storage}/status',
  'GET /nodes/{node}/tasks/{upid}/status',
  'GET /nodes/{node}/tasks/{upid}/log',
];

/** Where the data comes from (attribution; update together with the input file). */
export const SOURCE = {
  api: 'Proxmox VE 9.1 REST API schema',
  origin:
    'https://github.com/proxmox/pve-docs, api-viewer/apidata.js (commit e5010dcea566a205770572cfbc5fe0af220d5077, 9.1.3)',
  license: 'AGPL-3.0-or-later (pve-docs debian/copyright for *.js)',
  content:
    'endpoints used by pgha; per parameter only the fields that validation reads. indexMax is the largest n of an indexed key such as net[n].',
};

/** Fields of a parameter (or a property-string sub-key) that validation reads; descriptions are left out. */
const PROP_FIELDS = [
  'alias',
  'default_key',
  'enum',
  'format',
  'keyAlias',
  'maxLength',
  'maximum',
  'minimum',
  'optional',
  'pattern',
  'requires',
  'type',
];

/** Largest n of indexed keys whose range the schema text does not state (constants of qemu-server / pve-container). */
const INDEX_MAX = { net: 31, ipconfig: 31, hostpci: 15, numa: 7, unused: 255, virtiofs: 9, mp: 255 };

function prop(p, where) {
  const out = {};
  for (const f of PROP_FIELDS) {
    if (p[f] === undefined) continue;
    if (f === 'format' && typeof p.format === 'object') {
      out.format = Object.fromEntries(Object.entries(p.format).map(([k, sub]) => [k, prop(sub, `${where}.${k}`)]));
    } else {
      out[f] = p[f];
    }
  }
  if (!out.type && !out.alias) throw new Error(`${where}: parameter without a type`);
  return out;
}

function indexMax(key, p, where) {
  const range = /[Nn] is (\d+) to (\d+)/.exec(JSON.stringify(p));
  if (range) return Number(range[2]);
  const base = key.slice(0, -'[n]'.length);
  if (INDEX_MAX[base] === undefined)
    throw new Error(`${where}: no range for ${key} in the schema; add it to INDEX_MAX`);
  return INDEX_MAX[base];
}

function method(info, where) {
  const params = info.parameters ?? {};
  const properties = {};
  for (const [k, p] of Object.entries(params.properties ?? {})) {
    properties[k] = prop(p, `${where} ${k}`);
    if (k.endsWith('[n]')) properties[k].indexMax = indexMax(k, p, `${where} ${k}`);
  }
  const out = { parameters: { additionalProperties: params.additionalProperties ?? 0, properties } };
  if (info.permissions) {
    const { check, user } = info.permissions;
    out.permissions = { ...(check ? { check } : {}), ...(user ? { user } : {}) };
  }
  return out;
}

/** The subset of a full apidata tree (array of {path, info, children}). Throws when a listed endpoint is missing. */
export function extract(tree, endpoints = ENDPOINTS) {
  const byPath = new Map();
  const walk = (nodes) => {
    for (const n of nodes) {
      byPath.set(n.path, n);
      walk(n.children ?? []);
    }
  };
  walk(tree);
  const out = {};
  for (const e of endpoints) {
    const [m, path] = e.split(' ');
    const info = byPath.get(path)?.info?.[m];
    if (!info) throw new Error(`${e} is not in the input schema`);
    (out[path] ??= {})[m] = method(info, e);
  }
  return { source: SOURCE, endpoints: out };
}

/** JSON with object keys sorted at every level below the top (array order kept), two-space indent, arrays of plain
 * values on one line, final newline: regenerating gives the same bytes. */
export function stableJson(value) {
  const emit = (v, pad) => {
    if (Array.isArray(v)) {
      if (v.every((x) => x === null || typeof x !== 'object')) return `[${v.map((x) => JSON.stringify(x)).join(', ')}]`;
      return `[\n${v.map((x) => `${pad}  ${emit(x, `${pad}  `)}`).join(',\n')}\n${pad}]`;
    }
    if (v && typeof v === 'object') {
      const keys = pad ? Object.keys(v).sort() : Object.keys(v);
      if (!keys.length) return '{}';
      return `{\n${keys.map((k) => `${pad}  ${JSON.stringify(k)}: ${emit(v[k], `${pad}  `)}`).join(',\n')}\n${pad}}`;
    }
    return JSON.stringify(v);
  };
  return `${emit(value, '')}\n`;
}

/** The subset file's text from the full schema file. */
export function generate(fullPath) {
  return stableJson(extract(JSON.parse(readFileSync(fullPath, 'utf8'))));
}

function main(argv) {
  const check = argv.includes('--check');
  const files = argv.filter((a) => a !== '--check');
  if (files.length !== 1) {
    console.error('usage: npm run pve-schema -- [--check] PATH/TO/apidata.json');
    return 2;
  }
  const text = generate(files[0]);
  if (check) {
    let current = '';
    try {
      current = readFileSync(SUBSET_PATH, 'utf8');
    } catch {
      /* missing counts as different */
    }
    if (current !== text) {
      console.error(
        `${SUBSET_PATH} is not what ${files[0]} gives: run npm run pve-schema -- ${files[0]} and commit the result`,
      );
      return 1;
    }
    console.log(`${SUBSET_PATH} is up to date`);
    return 0;
  }
  writeFileSync(SUBSET_PATH, text);
  const n = JSON.parse(text);
  const methods = Object.values(n.endpoints).flatMap((m) => Object.values(m));
  const params = methods.reduce((a, m) => a + Object.keys(m.parameters.properties).length, 0);
  console.log(
    `wrote ${SUBSET_PATH}: ${methods.length} endpoints, ${params} parameters, ${Buffer.byteLength(text)} bytes`,
  );
  return 0;
}

if (process.argv[1] && realpathSync(fileURLToPath(import.meta.url)) === realpathSync(process.argv[1])) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    console.error(`pve-schema: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}
