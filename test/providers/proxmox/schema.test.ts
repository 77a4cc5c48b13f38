// The request validator (the checked-in PVE API schema subset) accepts what PVE accepts and rejects what PVE rejects, with PVE's texts.
import { describe, expect, it } from 'vitest';
import { apiSchema } from './sim/server.js';

const v = () => apiSchema();
const CLONE = '/nodes/pve1/qemu/9000/clone';
const CONFIG = '/nodes/pve1/qemu/101/config';

function errorsOf(method: string, path: string, params: Record<string, string | string[]>) {
  const r = v().validate(method, path, params);
  return r.ok ? {} : r.errors;
}

describe('schema validator', () => {
  it('accepts the requests the provider sends', () => {
    expect(v().validate('GET', '/cluster/resources', { type: 'vm' }).ok).toBe(true);
    expect(v().validate('GET', '/cluster/nextid', {}).ok).toBe(true);
    expect(v().validate('POST', CLONE, { newid: '101', name: 'pg1', full: '1', storage: 'local-lvm' }).ok).toBe(true);
    expect(
      v().validate('POST', CONFIG, {
        ciuser: 'debian',
        ipconfig0: 'ip=10.0.0.5/24,gw=10.0.0.1',
        cores: '2',
        memory: '2048',
        tags: 'pgha-demo',
        sshkeys: 'ssh-ed25519%20AAAAC3Nza%2B%2F%20me%40host',
        nameserver: '10.0.0.1',
        net0: 'virtio=BC:24:11:00:00:01,bridge=vmbr0',
      }).ok,
    ).toBe(true);
    expect(v().validate('PUT', '/nodes/pve1/qemu/101/resize', { disk: 'scsi0', size: '20G' }).ok).toBe(true);
    expect(v().validate('DELETE', '/nodes/pve1/qemu/101', { purge: '1', 'destroy-unreferenced-disks': '1' }).ok).toBe(
      true,
    );
    expect(
      v().validate('GET', '/nodes/pve1/tasks/UPID:pve1:0002A1F3:00C8E2B1:6651D0A2:qmclone:9000:pgha@pve!ci:/log', {
        start: '0',
        limit: '0',
      }).ok,
    ).toBe(true);
    expect(v().validate('GET', '/nodes/pve1/qemu/101/agent/network-get-interfaces', {}).ok).toBe(true);
  });

  it('prefers literal path segments over parameters', () => {
    const r = v().validate('GET', '/nodes/pve1/qemu/101/status/current', {});
    expect(r.ok && r.route.template).toBe('/nodes/{node}/qemu/{vmid}/status/current');
    expect(r.ok && r.route.pathParams).toEqual({ node: 'pve1', vmid: '101' });
  });

  it('rejects an unknown parameter', () => {
    expect(errorsOf('POST', CLONE, { newid: '101', cores: '2' })).toEqual({
      cores: 'property is not defined in schema and the schema does not allow additional properties',
    });
  });

  it('rejects a wrong type, including booleans sent as true', () => {
    expect(errorsOf('POST', CLONE, { newid: 'abc' })).toEqual({ newid: "type check ('integer') failed - got 'abc'" });
    expect(errorsOf('POST', CLONE, { newid: '101', full: 'true' })).toEqual({
      full: "type check ('boolean') failed - got 'true'",
    });
  });

  it('rejects a missing required parameter', () => {
    expect(errorsOf('POST', CLONE, { name: 'pg1' })).toEqual({ newid: 'property is missing and it is not optional' });
    expect(errorsOf('PUT', '/nodes/pve1/qemu/101/resize', { disk: 'scsi0' })).toEqual({
      size: 'property is missing and it is not optional',
    });
  });

  it('rejects a bad path or method with 501', () => {
    const r = v().validate('GET', '/nodes/pve1/foo', {});
    expect(r).toMatchObject({ ok: false, status: 501, reason: "Method 'GET /nodes/pve1/foo' not implemented" });
    expect(v().validate('PATCH', CONFIG, {})).toMatchObject({ ok: false, status: 501 });
    expect(v().validate('DELETE', '/cluster/nextid', {})).toMatchObject({ ok: false, status: 501 });
  });

  it('checks formats: vmid, dns-name, urlencoded sshkeys, tags, nameserver', () => {
    expect(errorsOf('POST', CLONE, { newid: '99' })).toEqual({
      newid: 'invalid format - value does not look like a valid VM ID\n',
    });
    expect(errorsOf('POST', CLONE, { newid: '101', name: 'pg_1' })).toEqual({
      name: 'invalid format - value does not look like a valid DNS name\n',
    });
    expect(errorsOf('POST', CONFIG, { sshkeys: 'ssh-ed25519 AAAA me@h' })).toEqual({
      sshkeys: 'invalid format - invalid urlencoded string: ssh-ed25519 AAAA me@h\n',
    });
    expect(errorsOf('POST', CONFIG, { tags: 'a=b' })).toEqual({ tags: 'invalid format - invalid characters in tag\n' });
    expect(errorsOf('POST', CONFIG, { nameserver: 'bad_host' })).toEqual({
      nameserver: 'invalid format - value does not look like a valid address: bad_host\n',
    });
  });

  it('checks enum and pattern', () => {
    expect(errorsOf('PUT', '/nodes/pve1/qemu/101/resize', { disk: 'sda', size: '20G' })['disk']).toMatch(
      /^value 'sda' does not have a value in the enumeration 'ide0, ide1/,
    );
    expect(errorsOf('PUT', '/nodes/pve1/qemu/101/resize', { disk: 'scsi0', size: '+10GiB' })).toEqual({
      size: 'value does not match the regex pattern',
    });
  });

  it('checks property strings: ipconfig, net, memory', () => {
    expect(errorsOf('POST', CONFIG, { ipconfig0: 'ip=10.0.0.5' })).toEqual({
      ipconfig0:
        'invalid format - format error\nipconfig0.ip: invalid format - value does not look like a valid ipv4 network configuration\n\n',
    });
    expect(errorsOf('POST', CONFIG, { ipconfig0: 'gw=10.0.0.1' })).toEqual({
      ipconfig0: "invalid format - format error\nipconfig0.ip: missing property required by 'ipconfig0.gw'\n",
    });
    expect(errorsOf('POST', CONFIG, { ipconfig0: 'ip=10.0.0.5/24,gateway=10.0.0.1' })['ipconfig0']).toContain(
      'ipconfig0.gateway: property is not defined in schema',
    );
    expect(errorsOf('POST', CONFIG, { ipconfig0: 'ip=dhcp' })).toEqual({});
    expect(errorsOf('POST', CONFIG, { net0: 'virtio,bridge=vmbr0,mtu=abc' })['net0']).toContain(
      "net0.mtu: type check ('integer') failed - got 'abc'",
    );
    expect(errorsOf('POST', CONFIG, { net0: 'virtio,bridg=vmbr0' })['net0']).toContain(
      'net0.bridg: property is not defined',
    );
    expect(errorsOf('POST', CONFIG, { memory: 'current=8' })['memory']).toContain(
      'memory.current: value must have a minimum value of 16',
    );
  });

  it('resolves indexed keys within their range only', () => {
    expect(errorsOf('POST', CONFIG, { ipconfig3: 'ip=dhcp', scsi30: 'local-lvm:vm-101-disk-1,size=1G' })).toEqual({});
    expect(Object.keys(errorsOf('POST', CONFIG, { scsi31: 'local-lvm:vm-101-disk-1' }))).toEqual(['scsi31']);
    expect(Object.keys(errorsOf('POST', CONFIG, { ipconfig32: 'ip=dhcp' }))).toEqual(['ipconfig32']);
  });
});
