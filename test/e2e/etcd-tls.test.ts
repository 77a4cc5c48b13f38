// etcd TLS on a real lab: a cluster built with tls_enabled: false is moved to TLS by `pgha up` (tls_enabled: true)
// while writes go through VIP:5001: plan names the move first and changes nothing, the move keeps the same leader
// and timeline and loses no acknowledged write (the longest write gap is printed), verify passes and a second run
// changes nothing. Then, from lb1 (a balancer, not an etcd member), etcd's client port refuses plain http and an
// https client without a certificate, and answers one with a certificate of the inventory's CA; etcd listens on
// the host's address only.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { connect, expectOk, inventory, pgha, sh, tempInventory } from './helpers.js';
import { describeLoad, lostWrites, prepareLoad, startLoad, type LoadTarget } from '../../bench/load.js';
import type { SshTransport } from '../../src/engine/transport.js';
import { sidecarPath } from '../../src/inventory/types.js';
import { ensureHostCert } from '../../src/components/tls/ca.js';

const VIP = '10.231.210.100';
const PG = ['10.231.210.11', '10.231.210.12', '10.231.210.13'];
const file = tempInventory('etcd-tls.yml');
let conns: Map<string, SshTransport> | undefined;
let target: LoadTarget;

afterAll(async () => {
  await Promise.all([...(conns?.values() ?? [])].map((t) => t.close()));
  await pgha(['destroy', '-i', file, '--yes']);
});

/** Leader and timeline as Patroni reports them (patronictl on pg1, through the DCS with its own settings). */
async function leader(): Promise<{ name: string; tl: number; members: number }> {
  const out = await sh(conns!.get('pg1')!, 'patronictl -c /etc/patroni/config.yml list -f json');
  const rows = JSON.parse(out) as { Member: string; Role: string; TL?: number }[];
  const l = rows.find((r) => r.Role === 'Leader')!;
  return { name: l.Member, tl: l.TL ?? 0, members: rows.length };
}

describe('etcd TLS', () => {
  it('pgha up builds the cluster without TLS (tls_enabled: false)', async () => {
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up (plain)');
    console.log(`plain pgha up: ${r.seconds.toFixed(1)} s`);
    const inv = await inventory(file);
    conns = await connect(inv);
    const secrets = parse(readFileSync(sidecarPath(inv, 'secrets.yml'), 'utf8')) as Record<string, string>;
    target = { host: VIP, password: secrets.postgres_superuser_password!, table: 'etcd_tls_move' };
    expect(await sh(conns.get('pg1')!, 'grep ^ETCD_LISTEN_CLIENT_URLS= /etc/default/etcd')).toContain('http://');
  });

  it('pgha plan with tls_enabled: true names the move and changes nothing', async () => {
    writeFileSync(file, readFileSync(file, 'utf8').replace('tls_enabled: false', 'tls_enabled: true'));
    const r = await pgha(['plan', '-i', file], { json: false });
    expectOk(r, 'pgha plan (move to TLS)');
    expect(r.stdout).toContain('pause the cluster while Patroni restarts with etcd over https');
    expect(r.stdout).toContain('etcdctl member update pg1 --peer-urls=https://10.231.210.11:2380');
    expect(await sh(conns!.get('pg2')!, 'cat /etc/default/etcd')).not.toContain('https');
  });

  it('pgha up moves it to TLS one member at a time under a write load: same leader, no write lost', async () => {
    const before = await leader();
    await prepareLoad(target);
    const load = startLoad(target);
    const r = await pgha(['up', '-i', file]);
    const report = await load.stop();
    expectOk(r, 'pgha up (move to TLS)');
    console.log(`move to TLS: pgha up ${r.seconds.toFixed(1)} s; ${describeLoad(report)}`);
    console.log(`restarted: ${JSON.stringify(r.json.totals.restarted)}`);
    expect(report.writesOk).toBeGreaterThan(0);
    expect(await lostWrites(target, report.acked)).toEqual([]);
    const after = await leader();
    expect(after).toEqual(before); // no failover: the same leader on the same timeline, every member back
    for (const [i, a] of PG.entries()) {
      const env = await sh(conns!.get(`pg${i + 1}`)!, 'cat /etc/default/etcd');
      expect(env).toContain(`ETCD_LISTEN_CLIENT_URLS="https://${a}:2379"`);
      expect(env).toContain(`ETCD_LISTEN_PEER_URLS="https://${a}:2380"`);
    }
    const paused = await sh(conns!.get('pg1')!, 'patronictl -c /etc/patroni/config.yml show-config');
    expect(paused).not.toMatch(/^pause: true/m);
  });

  it('pgha verify passes and a second pgha up changes nothing', async () => {
    expectOk(await pgha(['verify', '-i', file]), 'pgha verify');
    const r = await pgha(['up', '-i', file]);
    expectOk(r, 'pgha up (again)');
    expect(r.json.changes).toEqual([]);
    expect(r.json.totals.restarted).toEqual([]);
  });

  it('etcd listens on the host address only and refuses clients without a certificate of the CA', async () => {
    const ss = await sh(conns!.get('pg1')!, 'ss -Hltn');
    const etcdPorts = ss
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[3] ?? '')
      .filter((a) => /:(2379|2380|2381)$/.test(a))
      .sort();
    expect(etcdPorts).toEqual([`${PG[0]}:2379`, `${PG[0]}:2380`, `${PG[0]}:2381`]);

    const inv = await inventory(file);
    const lb1 = conns!.get('lb1')!;
    const cert = ensureHostCert(
      inv,
      inv.hosts.find((h) => h.name === 'lb1')!,
      true,
    )!;
    await sh(
      lb1,
      [
        'set -e',
        'command -v etcdctl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-client >/dev/null',
        'umask 077; mkdir -p /root/etcd-client',
        `cat > /root/etcd-client/ca.crt <<'EOF'\n${cert.ca.trim()}\nEOF`,
        `cat > /root/etcd-client/host.crt <<'EOF'\n${cert.cert.trim()}\nEOF`,
        `cat > /root/etcd-client/host.key <<'EOF'\n${cert.key.trim()}\nEOF`,
      ].join('\n'),
    );
    const ctl = (args: string) => lb1.exec(`ETCDCTL_API=3 etcdctl --dial-timeout=3s --command-timeout=5s ${args} 2>&1`);
    const plain = await ctl(`--endpoints=http://${PG[0]}:2379 get --prefix --keys-only /`);
    console.log(`plain http client: exit ${plain.code}: ${plain.stdout.trim().split('\n').pop()}`);
    expect(plain.code).not.toBe(0);
    const noCert = await ctl(
      `--endpoints=https://${PG[0]}:2379 --cacert=/root/etcd-client/ca.crt get --prefix --keys-only /`,
    );
    console.log(`https client without a certificate: exit ${noCert.code}: ${noCert.stdout.trim().split('\n').pop()}`);
    expect(noCert.code).not.toBe(0);
    const peer = await ctl(`--endpoints=https://${PG[1]}:2380 --cacert=/root/etcd-client/ca.crt endpoint health`);
    expect(peer.code).not.toBe(0);
    const ok = await ctl(
      `--endpoints=${PG.map((a) => `https://${a}:2379`).join(',')} --cacert=/root/etcd-client/ca.crt ` +
        '--cert=/root/etcd-client/host.crt --key=/root/etcd-client/host.key get --prefix --keys-only /service/',
    );
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(/\/leader$/m);
    const metrics = await lb1.exec(
      `bash -c 'exec 3<>/dev/tcp/${PG[2]}/2381; printf "GET /metrics HTTP/1.0\\r\\n\\r\\n" >&3; cat <&3' | grep -c '^etcd_server_has_leader 1'`,
    );
    expect(metrics.stdout.trim()).toBe('1');
  });
});
