// Validates API requests against the PVE API schema subset (apidata-subset.json, made from the official apidata.json by
// pve-schema.mjs) the way PVE's JSONSchema.pm does, with its texts.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { SUBSET_PATH } from './pve-schema.mjs';

export interface PropSchema {
  type?: string;
  format?: string | Record<string, PropSchema>;
  optional?: number;
  enum?: string[];
  minimum?: number | string;
  maximum?: number | string;
  pattern?: string;
  maxLength?: number;
  default_key?: number;
  alias?: string;
  keyAlias?: string;
  requires?: string;
  /** Indexed keys (`net[n]`): the largest n. */
  indexMax?: number;
}
export interface MethodInfo {
  parameters: { additionalProperties?: number; properties?: Record<string, PropSchema> };
  permissions?: { check?: unknown[]; user?: string };
}
/** The subset file: path template → method → schema. */
export interface SchemaSubset {
  source: Record<string, string>;
  endpoints: Record<string, Record<string, MethodInfo>>;
}

export interface Route {
  template: string;
  info: MethodInfo;
  pathParams: Record<string, string>;
}

export type Validation =
  | { ok: true; route: Route }
  | { ok: false; status: 400 | 501; reason: string; errors: Record<string, string>; route?: Route };

/** The checked-in schema subset the simulator validates against (written by pve-schema.mjs). */
export { SUBSET_PATH };

/** Reads a subset file; a missing or unreadable one is an error that says how to get it back. */
export function loadSubset(file = SUBSET_PATH): SchemaSubset {
  const fix =
    'it is part of the repository (git checkout -- test/providers/proxmox/sim/apidata-subset.json), ' +
    'or make it again with npm run pve-schema -- PATH/TO/apidata.json';
  if (!existsSync(file)) throw new Error(`the Proxmox API schema subset ${file} does not exist: ${fix}`);
  let data: SchemaSubset;
  try {
    data = JSON.parse(readFileSync(file, 'utf8')) as SchemaSubset;
  } catch (e) {
    throw new Error(`the Proxmox API schema subset ${file} is not readable JSON (${(e as Error).message}): ${fix}`, {
      cause: e,
    });
  }
  if (!data || typeof data.endpoints !== 'object' || !Object.keys(data.endpoints).length) {
    throw new Error(`the Proxmox API schema subset ${file} has no endpoints: ${fix}`);
  }
  return data;
}

export class ApiSchema {
  readonly subset: SchemaSubset;
  private readonly routes: { template: string; segs: string[]; methods: Record<string, MethodInfo> }[] = [];

  constructor(file = SUBSET_PATH) {
    this.subset = loadSubset(file);
    for (const [template, methods] of Object.entries(this.subset.endpoints)) {
      this.routes.push({ template, segs: template.split('/').filter(Boolean), methods });
    }
  }

  /** Every endpoint of the subset as "METHOD /template". */
  endpoints(): string[] {
    return this.routes.flatMap((r) => Object.keys(r.methods).map((m) => `${m} ${r.template}`)).sort();
  }

  /** Find the schema entry of a concrete path (segments already URL-decoded). Literal segments win over {params}. */
  match(
    path: string,
  ): { template: string; methods: Record<string, MethodInfo>; pathParams: Record<string, string> } | undefined {
    const segs = path.split('/').filter(Boolean);
    let best:
      | { score: number; template: string; methods: Record<string, MethodInfo>; pathParams: Record<string, string> }
      | undefined;
    for (const r of this.routes) {
      if (r.segs.length !== segs.length) continue;
      const params: Record<string, string> = {};
      let score = 0;
      let ok = true;
      r.segs.forEach((s, i) => {
        const m = /^\{(.+)\}$/.exec(s);
        if (m) params[m[1]!] = segs[i]!;
        else if (s === segs[i]) score++;
        else ok = false;
      });
      if (ok && (!best || score > best.score))
        best = { score, template: r.template, methods: r.methods, pathParams: params };
    }
    return best;
  }

  /** Validate method + path + parameters (form/query values as strings; repeated keys as arrays). */
  validate(method: string, path: string, params: Record<string, string | string[]>): Validation {
    const m = this.match(path);
    const info = m?.methods[method];
    if (!m || !info)
      return { ok: false, status: 501, reason: `Method '${method} ${path}' not implemented`, errors: {} };
    const route: Route = { template: m.template, info, pathParams: m.pathParams };
    const all: Record<string, string | string[]> = { ...params, ...m.pathParams };
    const errors = checkParams(info.parameters, all);
    if (Object.keys(errors).length)
      return { ok: false, status: 400, reason: 'Parameter verification failed.', errors, route };
    return { ok: true, route };
  }
}

/** The schema of a parameter name, resolving indexed keys (net0 → net[n]). */
export function propFor(props: Record<string, PropSchema>, key: string): PropSchema | undefined {
  if (props[key]) return props[key];
  const m = /^([a-z_-]+?)(\d+)$/.exec(key);
  if (!m) return undefined;
  const p = props[`${m[1]}[n]`];
  if (!p) return undefined;
  return Number(m[2]) <= (p.indexMax ?? 0) ? p : undefined;
}

function checkParams(
  schema: MethodInfo['parameters'],
  params: Record<string, string | string[]>,
): Record<string, string> {
  const props = schema.properties ?? {};
  const errors: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) {
    const p = propFor(props, k);
    if (!p) {
      if (!schema.additionalProperties)
        errors[k] = 'property is not defined in schema and the schema does not allow additional properties';
      continue;
    }
    if (Array.isArray(v) && p.type !== 'array') {
      errors[k] = `type check ('${p.type}') failed - got ARRAY`;
      continue;
    }
    const err = checkValue(k, p, Array.isArray(v) ? v.join('\0') : v);
    if (err) errors[k] = err;
  }
  for (const [k, p] of Object.entries(props)) {
    if (!p.optional && !k.includes('[n]') && !(k in params)) errors[k] = 'property is missing and it is not optional';
  }
  return errors;
}

/** One value against its schema; returns PVE's error text or undefined. */
export function checkValue(name: string, p: PropSchema, v: string): string | undefined {
  switch (p.type) {
    case 'integer':
      if (!/^-?\d+$/.test(v)) return `type check ('integer') failed - got '${v}'`;
      break;
    case 'number':
      if (!/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v)) return `type check ('number') failed - got '${v}'`;
      break;
    case 'boolean':
      if (v !== '0' && v !== '1') return `type check ('boolean') failed - got '${v}'`;
      break;
    case 'string':
    case undefined:
      break;
    default:
      break;
  }
  if (typeof p.format === 'string') {
    const err = checkFormat(name, p.format, v);
    if (err) return `invalid format - ${err}\n`;
  } else if (p.format && typeof p.format === 'object') {
    const errs = checkPropertyString(name, p.format, v);
    if (errs.length) return `invalid format - format error\n${errs.join('')}`;
  }
  if (p.type === 'integer' || p.type === 'number') {
    if (p.minimum !== undefined && Number(v) < Number(p.minimum))
      return `value must have a minimum value of ${p.minimum}`;
    if (p.maximum !== undefined && Number(v) > Number(p.maximum))
      return `value must have a maximum value of ${p.maximum}`;
  }
  if (p.maxLength !== undefined && v.length > p.maxLength) return `value may only be ${p.maxLength} characters long`;
  if (p.enum && !p.enum.includes(v))
    return `value '${v}' does not have a value in the enumeration '${p.enum.join(', ')}'`;
  if (p.pattern && !new RegExp(`^(?:${p.pattern})$`).test(v)) return 'value does not match the regex pattern';
  return undefined;
}

const DNS_LABEL = '([a-zA-Z0-9]([a-zA-Z0-9\\-]*[a-zA-Z0-9])?)';
const DNS_NAME = new RegExp(`^(${DNS_LABEL}\\.)*${DNS_LABEL}$`);
const CONFIGID = /^[a-z][a-z0-9_]+$/i;

function cidrOk(v: string, family: 4 | 6): boolean {
  const [ip, len, ...rest] = v.split('/');
  if (rest.length || len === undefined || !/^\d+$/.test(len)) return false;
  return isIP(ip ?? '') === family && Number(len) <= (family === 4 ? 32 : 128);
}

/** Named string formats (PC JSONSchema.pm / QS). Unknown formats pass: only what pgha may send needs a precise check. */
function checkFormat(name: string, format: string, v: string): string | undefined {
  switch (format) {
    case 'pve-vmid':
      return /^\d+$/.test(v) && Number(v) >= 100 && Number(v) <= 999999999
        ? undefined
        : 'value does not look like a valid VM ID';
    case 'pve-node':
      return /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/.test(v)
        ? undefined
        : 'value does not look like a valid node name';
    case 'dns-name':
      return DNS_NAME.test(v) ? undefined : 'value does not look like a valid DNS name';
    case 'pve-storage-id':
      return /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i.test(v) ? undefined : "storage ID '" + v + "' contains illegal characters";
    case 'pve-bridge-id':
      return /^[-_.\w\d]+$/.test(v) ? undefined : 'invalid bridge ID';
    case 'pve-configid':
      return CONFIGID.test(v) ? undefined : 'invalid configuration ID';
    case 'pve-poolid':
      return /^[A-Za-z0-9_\-/]+$/.test(v) ? undefined : 'invalid pool ID';
    case 'mac-addr':
      return /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(v) && !/^.[13579bdf]/i.test(v)
        ? undefined
        : 'value does not look like a valid unicast MAC address';
    case 'urlencoded':
      return /^[-%a-zA-Z0-9_.!~*'()]*$/.test(v) ? undefined : `invalid urlencoded string: ${v}`;
    case 'address-list':
      for (const a of v.split(/[\s,;]+/).filter(Boolean))
        if (!isIP(a) && !DNS_NAME.test(a)) return `value does not look like a valid address: ${a}`;
      return undefined;
    case 'pve-tag-list':
      for (const t of v.split(/[;,\s]+/).filter(Boolean))
        if (!/^[a-z0-9_][a-z0-9_\-+.]*$/i.test(t)) return 'invalid characters in tag';
      return undefined;
    case 'disk-size':
      return /^\d+(\.\d+)?[KMGT]?$/.test(v) ? undefined : 'unable to parse size';
    case 'pve-qm-ipconfig': {
      const errs = checkPropertyString(name, IPCONFIG, v);
      if (errs.length) return `format error\n${errs.join('').replace(/\n$/, '')}`;
      const kv = Object.fromEntries(v.split(',').map((p) => p.split('=')));
      if (kv['ip'] && !['dhcp', 'manual'].includes(kv['ip']) && !cidrOk(kv['ip'], 4))
        return `format error\n${name}.ip: invalid format - value does not look like a valid ipv4 network configuration\n`;
      if (kv['ip6'] && !['dhcp', 'auto', 'manual'].includes(kv['ip6']) && !cidrOk(kv['ip6'], 6))
        return `format error\n${name}.ip6: invalid format - value does not look like a valid ipv6 network configuration\n`;
      if (kv['gw'] && isIP(kv['gw']) !== 4)
        return `format error\n${name}.gw: invalid format - value does not look like a valid IPv4 address`;
      return undefined;
    }
    default:
      return undefined;
  }
}

const IPCONFIG: Record<string, PropSchema> = {
  ip: { type: 'string', optional: 1 },
  gw: { type: 'string', optional: 1, requires: 'ip' },
  ip6: { type: 'string', optional: 1 },
  gw6: { type: 'string', optional: 1, requires: 'ip6' },
};

/** A property string like `virtio=BC:24:11:00:00:01,bridge=vmbr0` against its object format (PC parse_property_string). */
export function checkPropertyString(name: string, format: Record<string, PropSchema>, v: string): string[] {
  const errs: string[] = [];
  const seen: Record<string, string> = {};
  const defaultKey = Object.keys(format).find((k) => format[k]!.default_key);
  for (const part of v.split(',')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    let key = eq < 0 ? defaultKey : part.slice(0, eq);
    const val = eq < 0 ? part : part.slice(eq + 1);
    if (key === undefined) {
      errs.push(`${name}: value without key, but schema does not define a default key\n`);
      continue;
    }
    let sub = format[key];
    if (sub?.alias) {
      if (sub.keyAlias) {
        seen[sub.keyAlias] = key; // e.g. model=virtio from `virtio=<mac>`
      }
      key = sub.alias;
      sub = format[key];
    }
    if (!sub) {
      errs.push(
        `${name}.${key}: property is not defined in schema and the schema does not allow additional properties\n`,
      );
      continue;
    }
    if (key in seen) errs.push(`${name}.${key}: duplicate key in comma-separated list property\n`);
    seen[key] = val;
    const err = checkValue(`${name}.${key}`, sub, sub.type === 'boolean' ? boolNorm(val) : val);
    if (err) errs.push(`${name}.${key}: ${err.endsWith('\n') ? err : `${err}\n`}`);
    void val;
  }
  for (const [k, sub] of Object.entries(format)) {
    if (sub.alias) continue;
    if (!sub.optional && sub.default_key === undefined && !(k in seen))
      errs.push(`${name}.${k}: property is missing and it is not optional\n`);
    if (sub.requires && k in seen && !(sub.requires in seen))
      errs.push(`${name}.${sub.requires}: missing property required by '${name}.${k}'\n`);
  }
  return errs;
}

function boolNorm(v: string): string {
  return /^(1|on|yes|true)$/i.test(v) ? '1' : /^(0|off|no|false)$/i.test(v) ? '0' : v;
}
