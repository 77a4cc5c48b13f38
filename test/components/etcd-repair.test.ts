// etcd members with foreign data, against fake etcdctl and systemctl on PATH and real data dirs: repaired after
// confirmation (member remove if listed, stop, wipe, member add), planned in check mode, refused without it.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { groupCtx, makeInventory } from './helpers.js';
import { fakeBin, FakeBinTransport } from '../engine/fake-bin.js';
import { reconcileMembers } from '../../src/components/etcd/checks.js';
import { CheckError, UserError } from '../../src/util/errors.js';
import type { Transport } from '../../src/engine/types.js';

/** These tests describe the plain-http cluster (tls_enabled: false); etcd-tls.test.ts covers TLS. */
const PLAIN = { tls_enabled: false };

const ID = { pg1: '101', pg2: '102', pg3: '103' } as const;
type Name = keyof typeof ID;

function status(cluster: string, me: Name, leader: Name): string {
  return `[{"Endpoint":"http://127.0.0.1:2379","Status":{"header":{"cluster_id":${cluster},"member_id":${ID[me]},"revision":1,"raft_term":2},"version":"3.4.23","leader":${ID[leader]},"raftTerm":2}}]`;
}

function list(cluster: string, me: Name, names: Name[]): string {
  const m = names.map(
    (n) =>
      `{"ID":${ID[n]},"name":"${n}","peerURLs":["http://10.77.0.1${n.slice(2)}:2380"],"clientURLs":["http://10.77.0.1${n.slice(2)}:2379"]}`,
  );
  return `{"header":{"cluster_id":${cluster},"member_id":${ID[me]},"raft_term":2},"members":[${m.join(',')}]}`;
}

const LOG = `printf '%s: %s\\n' "$TAG" "$(basename "$0") $*" >> "$SHARED"`;
const ETCDCTL = `${LOG}
case "$*" in
  *"endpoint status"*) cat "$FAKE/status.json" ;;
  *"member list"*) cat "$FAKE/list.json" ;;
  *) echo ok ;;
esac`;

/** pg1 and pg2 in cluster 1000 (pg2 leads); pg3 has data of cluster 2000, or (answering: false) does not answer. */
function setup(o: { pg3InList: boolean; pg3Answers: boolean }) {
  const inv = makeInventory(PLAIN);
  const etcdHosts = inv.hosts.filter((h) => h.roles.includes('etcd'));
  const { fake } = fakeBin({ etcdctl: ETCDCTL, systemctl: LOG });
  const transports = new Map<string, Transport>();
  const dirs: Record<string, string> = {};
  for (const h of etcdHosts) {
    const name = h.name as Name;
    const dir = join(fake, name);
    mkdirSync(join(dir, 'bin'), { recursive: true });
    const data = join(dir, 'data');
    mkdirSync(join(data, 'member', 'wal'), { recursive: true });
    dirs[name] = data;
    h.vars = { ...h.vars, etcd_data_dir: data };
    const members: Name[] = o.pg3InList ? ['pg1', 'pg2', 'pg3'] : ['pg1', 'pg2'];
    if (name === 'pg3') {
      writeFileSync(join(dir, 'status.json'), o.pg3Answers ? status('2000', 'pg3', 'pg3') : '');
      writeFileSync(join(dir, 'list.json'), o.pg3Answers ? list('2000', 'pg3', ['pg3']) : '');
    } else {
      writeFileSync(join(dir, 'status.json'), status('1000', name, 'pg2'));
      writeFileSync(join(dir, 'list.json'), list('1000', name, members));
    }
    // Each host has its own answers ($FAKE is its folder); the fake commands are the shared ones.
    const t = new FakeBinTransport(dir, h);
    const exec = t.exec.bind(t);
    const env = `TAG=${name} SHARED=${join(fake, 'all-calls')}; export TAG SHARED`;
    t.exec = (script, opts) => exec(`${env}; PATH=${join(fake, 'bin')}:"$PATH"\n${script}`, opts);
    transports.set(h.name, t);
  }
  const calls = () =>
    existsSync(join(fake, 'all-calls')) ? readFileSync(join(fake, 'all-calls'), 'utf8').trimEnd().split('\n') : [];
  return { inv, etcdHosts, transports, dirs, calls };
}

describe('etcd foreign data', () => {
  it('is planned in check mode, nothing changed', async () => {
    const s = setup({ pg3InList: true, pg3Answers: true });
    const logs: string[] = [];
    await reconcileMembers({ ...groupCtx(s.inv, s.transports, s.etcdHosts), check: true, log: (l) => logs.push(l) });
    expect(logs.join('\n')).toMatch(
      /pg3: its data dir belongs to cluster 7d0, not 3e8 .*would repair it \(etcdctl member remove 67, stop etcd, wipe .*, etcdctl member add pg3/,
    );
    expect(existsSync(join(s.dirs.pg3!, 'member'))).toBe(true);
  });

  it('is repaired after confirmation: member remove, stop and wipe on the host, member add through the leader', async () => {
    const s = setup({ pg3InList: true, pg3Answers: true });
    const asked: string[] = [];
    await reconcileMembers({
      ...groupCtx(s.inv, s.transports, s.etcdHosts),
      confirm: async (w) => void asked.push(w.changes.map((c) => `${c.host}: ${c.summary}`).join('\n')),
    });
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatch(/^pg3: its data dir belongs to cluster 7d0/);
    const changing = s
      .calls()
      .filter((x) => /member (remove|add)|systemctl stop/.test(x))
      .map((x) => `${x.split(':')[0]}: ${/member remove \S+|member add \S+ \S+|systemctl stop \S+/.exec(x)![0]}`);
    expect(changing).toEqual([
      'pg2: member remove 67',
      'pg3: systemctl stop etcd.service',
      'pg2: member add pg3 --peer-urls=http://10.77.0.13:2380',
    ]);
    expect(existsSync(join(s.dirs.pg3!, 'member'))).toBe(false);
    expect(existsSync(join(s.dirs.pg1!, 'member'))).toBe(true);
  });

  it('also repairs a member with data that the member list does not have and that does not answer', async () => {
    const s = setup({ pg3InList: false, pg3Answers: false });
    await reconcileMembers({ ...groupCtx(s.inv, s.transports, s.etcdHosts), confirm: async () => undefined });
    const pg2 = (s.transports.get('pg2') as FakeBinTransport).scripts.filter((x) => /member (remove|add)/.test(x));
    expect(pg2).toHaveLength(1);
    expect(pg2[0]).toContain('member add pg3 --peer-urls=http://10.77.0.13:2380');
    expect(existsSync(join(s.dirs.pg3!, 'member'))).toBe(false);
  });

  it('is left alone when the confirmation is refused, and reported when nobody can be asked', async () => {
    const s = setup({ pg3InList: true, pg3Answers: true });
    const e = await reconcileMembers({
      ...groupCtx(s.inv, s.transports, s.etcdHosts),
      confirm: async () => {
        throw new UserError('not confirmed; nothing was changed');
      },
    }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UserError);
    expect(existsSync(join(s.dirs.pg3!, 'member'))).toBe(true);
    const e2 = await reconcileMembers(groupCtx(s.inv, s.transports, s.etcdHosts)).catch((x: unknown) => x);
    expect(e2).toBeInstanceOf(CheckError);
    expect((e2 as CheckError).host).toBe('pg3');
    expect(existsSync(join(s.dirs.pg3!, 'member'))).toBe(true);
  });
});
