// Checks before change: every refusal is found by reading only, all problems come in one error with the inventory's
// file:line, and the simulator sees no request that changes anything.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../../src/util/errors.js';
import { loadInventory } from '../../../src/inventory/load.js';
import { createProxmoxProvider } from '../../../src/providers/proxmox/index.js';
import { parsePublicKey, publicOfPrivate } from '../../../src/providers/proxmox/sshkeys.js';
import { PveSim, type SimOptions } from './sim/server.js';
import { catalog } from '../../../src/components/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'pgha-preflight-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function keypair(name: string, type = 'ed25519', extra: string[] = []): { file: string; pub: string } {
  const file = join(tmp, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...extra, '-N', '', '-C', `${name}@test`, '-f', file]);
  return { file, pub: readFileSync(`${file}.pub`, 'utf8').trim() };
}
const main = keypair('main');
const other = keypair('other');

let sim: PveSim | undefined;
afterEach(async () => {
  const invalid = sim?.invalid ?? [];
  await sim?.close();
  sim = undefined;
  expect(invalid).toEqual([]);
});

/** An inventory file for the simulator; `hostExtra` is added under pg2 (indented for a host map entry). */
function inventoryText(
  s: PveSim,
  o: { key?: string; keyFile?: string; storage?: string; bridge?: string; template?: number; pg2?: string } = {},
): string {
  return `cluster: demo
provider:
  type: proxmox
  proxmox:
    api:
      host: 127.0.0.1
      port: ${s.port}
      node: pve1
      token_id: '${s.tokenId}'
      token_secret_env: PGHA_TEST_PVE_SECRET
      ca_file: ${s.caFile}
    template: ${o.template ?? 9000}
    storage: ${o.storage ?? 'local-lvm'}
    bridge: ${o.bridge ?? 'vmbr0'}
    defaults:
      gateway: 10.77.0.1
      ssh_public_key: ${o.key ?? main.pub}
network:
  subnet: 10.77.0.0/24
ssh:
  key_file: ${o.keyFile ?? main.file}
hosts:
  pg1: {address: 10.77.0.11, roles: [etcd, postgres]}
  pg2:
    address: 10.77.0.12
    roles: [etcd, postgres]
${o.pg2 ?? ''}
  pg3: {address: 10.77.0.13, roles: [etcd, postgres]}
`;
}

async function refuse(
  simOpts: SimOptions,
  o: Parameters<typeof inventoryText>[1] = {},
  setup?: (s: PveSim) => void,
): Promise<{ e: UserError; file: string }> {
  sim = await new PveSim({ timeScale: 0.05, cloneMs: 100, taskMs: 10, ...simOpts }).start();
  process.env['PGHA_TEST_PVE_SECRET'] = sim.secret;
  setup?.(sim);
  const file = join(tmp, `inv-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, inventoryText(sim, o));
  const inv = loadInventory(file, catalog);
  const provider = createProxmoxProvider({ client: { backoffMs: 5, pollMs: 5 }, waitSsh: async () => undefined });
  const e = await provider.up(inv, { check: false, log: () => undefined }).then(
    () => {
      throw new Error('up succeeded');
    },
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(UserError);
  // Nothing was created or changed: only GET requests reached the API.
  expect(sim.changes()).toEqual([]);
  expect([...sim.st.vms.values()].filter((v) => /^pg\d$/.test(v.config['name'] ?? ''))).toEqual([]);
  return { e: e as UserError, file };
}

/** The 1-based line of the first line of the file containing text. */
const lineOf = (file: string, text: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(text)) + 1;

describe('proxmox checks before change: each refusal', () => {
  it('a missing privilege on the template, the storage and the new VMs, all named at token_id', async () => {
    const { e, file } = await refuse({}, {}, (s) => {
      const all = s.st.acl['/']!;
      s.setAcl({
        '/': all,
        '/vms/9000': all.filter((p) => p !== 'VM.Clone'),
        '/storage': all.filter((p) => p !== 'Datastore.AllocateSpace'),
        '/vms/100': all.filter((p) => p !== 'VM.PowerMgmt'),
      });
    });
    const at = `${file}:${lineOf(file, 'token_id:')}: provider.proxmox.api.token_id:`;
    expect(e.message).toContain(`${at} the API token pgha@pve!provision lacks VM.Clone on /vms/9000`);
    expect(e.message).toContain(
      `${at} the API token pgha@pve!provision lacks Datastore.AllocateSpace on /storage/local-lvm`,
    );
    expect(e.message).toContain('lacks VM.PowerMgmt on /vms/100');
    expect(e.hint).toContain("pveum acl modify /vms/9000 --tokens 'pgha@pve!provision'");
  });

  it('SDN.Use on the bridge (PVE 8+)', async () => {
    const { e } = await refuse({}, {}, (s) => s.setAcl({ '/': s.st.acl['/']!, '/sdn': [] }));
    expect(e.message).toContain('lacks SDN.Use on /sdn/zones/localnetwork/vmbr0');
    expect(e.message).toMatch(/found 1 problem /); // the bridge it cannot see is not reported twice
  });

  it('the template is on another node, on storage that is not shared', async () => {
    const { e, file } = await refuse({
      nodes: ['pve1', 'pve2'],
      storages: { 'local-lvm': ['pve1', 'pve2'] },
      templates: [{ vmid: 9000, node: 'pve2', name: 'tpl', storage: 'local-lvm' }],
    });
    expect(e.message).toContain(
      `${file}:${lineOf(file, 'template:')}: provider.proxmox.template: the template 9000 on pve2 has disks on storage that is not shared (local-lvm): it cannot be cloned to node pve1`,
    );
    expect(e.message).toContain(
      `${file}:${lineOf(file, 'storage:')}: provider.proxmox.storage: storage 'local-lvm' is not shared: a clone from pve2 to pve1 needs shared storage`,
    );
    expect(e.hint).toContain('give pve1 a template of its own');
  });

  it('the template VM is no template and has no cloud-init drive', async () => {
    const { e } = await refuse({}, {}, (s) => {
      const t = s.st.vms.get(9000)!;
      delete t.config['template'];
      delete t.config['ide2'];
    });
    expect(e.message).toContain('VM 9000 (debian12-ci) on pve1 is not a template');
    expect(e.message).toContain('the template 9000 has no cloud-init drive');
  });

  it('the storage is not on the node, inactive, or holds no disk images', async () => {
    const a = await refuse({ storages: { 'local-lvm': ['pve1'], ceph: ['pve2'] } }, { storage: 'ceph' });
    expect(a.e.message).toContain(
      `${a.file}:${lineOf(a.file, 'storage:')}: provider.proxmox.storage: storage 'ceph' is not available on node 'pve1'`,
    );
    await sim!.close();
    const b = await refuse(
      {
        storages: { 'local-lvm': ['pve1'], nfs: ['pve1'] },
        storageInfo: { nfs: { active: false, content: 'iso,vztmpl' } },
      },
      { storage: 'nfs' },
    );
    expect(b.e.message).toContain("storage 'nfs' is not active on node 'pve1'");
    expect(b.e.message).toContain("storage 'nfs' does not hold disk images (content: iso,vztmpl)");
  });

  it('the bridge does not exist on the node', async () => {
    const { e, file } = await refuse({ bridges: { pve1: ['vmbr0', 'vmbr1'] } }, { bridge: 'vmbr9' });
    expect(e.message).toContain(
      `${file}:${lineOf(file, 'bridge:')}: provider.proxmox.bridge: bridge vmbr9 does not exist on node pve1 (bridges there: vmbr0, vmbr1)`,
    );
  });

  it('a fixed vmid is taken, also by a VM the token cannot see', async () => {
    const { e, file } = await refuse({}, { pg2: '    proxmox: {vmid: 650}' }, (s) => {
      s.st.vms.set(650, { vmid: 650, node: 'pve1', status: 'running', createdAt: 0, config: { name: 'billing-db' } });
    });
    expect(e.message).toContain(
      `${file}:${lineOf(file, 'vmid: 650')}: hosts.pg2.proxmox.vmid: the VM id 650 from the inventory is already used by VM 'billing-db' on pve1`,
    );
    await sim!.close();
    const b = await refuse({}, { pg2: '    proxmox: {vmid: 700}' }, (s) => {
      s.st.vms.set(700, { vmid: 700, node: 'pve1', status: 'stopped', createdAt: 0, config: { name: 'hidden' } });
      s.setAcl({ '/': s.st.acl['/']!, '/vms/700': [] });
    });
    expect(b.e.message).toContain('the VM id 700 from the inventory is already used by a VM this token cannot see');
  });

  it('an SSH public key that does not parse, with the line it comes from', async () => {
    const truncated = main.pub
      .split(' ')
      .map((x, i) => (i === 1 ? x.slice(0, 40) : x))
      .join(' ');
    const { e, file } = await refuse(
      {},
      { key: truncated, pg2: `    proxmox: {ssh_public_key: "ssh-rsa ${main.pub.split(' ')[1]} me"}` },
    );
    expect(e.message).toContain(
      `${file}:${lineOf(file, 'ssh_public_key: ssh-ed25519')}: provider.proxmox.defaults.ssh_public_key: not a valid SSH public key: the key data of the ssh-ed25519 key`,
    );
    expect(e.message).toContain(
      `${file}:${lineOf(file, 'ssh_public_key: "ssh-rsa')}: hosts.pg2.proxmox.ssh_public_key: not a valid SSH public key: the key data says "ssh-ed25519" but the line says ssh-rsa`,
    );
  });

  it('the private key file is missing, or is not the other half of the public key', async () => {
    const a = await refuse({}, { keyFile: join(tmp, 'nope') });
    expect(a.e.message).toContain(
      `${a.file}:${lineOf(a.file, 'key_file:')}: ssh.key_file: private key ${join(tmp, 'nope')}: the file does not exist`,
    );
    await sim!.close();
    const b = await refuse({}, { keyFile: other.file });
    expect(b.e.message).toContain(
      `private key ${other.file} does not match the public key given to cloud-init for pg1`,
    );
    expect(b.e.hint).toContain(`ssh-keygen -y -f ${other.file}`);
  });

  it('several problems at once: one error, each at its line, nothing created', async () => {
    const { e, file } = await refuse(
      {},
      { storage: 'nope', bridge: 'vmbr7', template: 9100, keyFile: join(tmp, 'missing') },
    );
    const lines = e.message.split('\n').slice(1);
    expect(e.message).toMatch(/^Proxmox checks found 4 problems before any change \(nothing was created\):/);
    expect(lines).toEqual([
      `  ${file}:${lineOf(file, 'template:')}: provider.proxmox.template: the template VM 9100 does not exist on node pve1`,
      `  ${file}:${lineOf(file, 'storage:')}: provider.proxmox.storage: storage 'nope' is not available on node 'pve1'`,
      `  ${file}:${lineOf(file, 'key_file:')}: ssh.key_file: private key ${join(tmp, 'missing')}: the file does not exist`,
      `  ${file}:${lineOf(file, 'bridge:')}: provider.proxmox.bridge: bridge vmbr7 does not exist on node pve1 (bridges there: vmbr0)`,
    ]);
    expect(e.where).toMatchObject({ file, line: lineOf(file, 'template:'), field: 'provider.proxmox.template' });
  });
});

describe('ssh keys', () => {
  it('accepts real keys of every common type and derives the public key from the private one', () => {
    const rsa = keypair('rsa', 'rsa', ['-b', '2048', '-m', 'PEM']);
    const ec = keypair('ec', 'ecdsa', ['-b', '384']);
    for (const k of [main, other, rsa, ec]) {
      const pub = parsePublicKey(k.pub);
      expect(typeof pub).toBe('object');
      expect(publicOfPrivate(k.file)).toEqual(pub);
    }
    expect(readFileSync(rsa.file, 'utf8')).toContain('BEGIN RSA PRIVATE KEY'); // the PEM path, not the OpenSSH one
    expect(publicOfPrivate(main.file)).not.toEqual(publicOfPrivate(other.file));
  });

  it('refuses what PVE refuses', () => {
    const blob = main.pub.split(' ')[1]!;
    expect(parsePublicKey(`ssh-ed25519 ${blob}`)).toMatchObject({ type: 'ssh-ed25519' });
    expect(parsePublicKey(`/home/me/.ssh/id_ed25519.pub`)).toMatch(/is not an SSH key type/);
    expect(parsePublicKey('ssh-ed25519')).toMatch(/no key data/);
    expect(parsePublicKey(`ssh-ed25519 ${blob.slice(0, -4)}`)).toMatch(/cut short|wrong length/);
    expect(parsePublicKey(`ssh-ed25519 ${blob}!`)).toMatch(/not base64/);
    expect(parsePublicKey(`ecdsa-sha2-nistp256 ${blob} x`)).toMatch(/the key data says "ssh-ed25519"/);
    expect(publicOfPrivate(`${main.file}.pub`)).toBe('not a private key pgha can read (OpenSSH or PEM)');
  });
});
