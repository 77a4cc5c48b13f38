// The programs kept under templates/ (Python for Patroni's REST API, shell for probes), rendered straight from
// their files and run here: python3/sh against a fake Patroni REST API, loopback servers and fake commands.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { journalCmd, parseHttpResponse, python3, renderProgram } from '../../src/components/common.js';
import { shq } from '../../src/engine/quote.js';
import { LocalTransport, fakeHost } from '../engine/local-transport.js';
import { fakeBin } from '../engine/fake-bin.js';
import { fakeApi, startFakePatroni, type FakePatroni } from './fake-patroni.js';
import { apiClientLines } from '../../src/components/patroni/api.js';

const sh = (script: string, stdin = '') => new LocalTransport(fakeHost()).exec(script, { stdin });
const CRED = JSON.stringify({ user: 'patroni', password: "s3cr'et pass" });
const BASIC = `Basic ${Buffer.from("patroni:s3cr'et pass").toString('base64')}`;

let patroni: FakePatroni | undefined;
let server: Server | undefined;
afterEach(async () => {
  await patroni?.close();
  server?.close();
  patroni = undefined;
  server = undefined;
});

/** A loopback HTTP server; `handle` answers each request (its body already read). */
async function serve(
  handle: (method: string, url: string, body: string, auth?: string) => { status?: number; body: string },
): Promise<number> {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const r = handle(req.method ?? '', req.url ?? '', body, req.headers.authorization);
      res.writeHead(r.status ?? 200, { 'Content-Type': 'application/json' });
      res.end(r.body);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('templates/common/http-get.sh.hbs', () => {
  it('sends one HTTP/1.0 GET over bash /dev/tcp and prints the whole response', async () => {
    const seen: string[] = [];
    const port = await serve((method, url) => {
      seen.push(`${method} ${url}`);
      return { body: '{"state":"running"}' };
    });
    const request = shq('GET /patroni HTTP/1.0\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n');
    const r = await sh(`bash -c ${shq(renderProgram('common/http-get.sh.hbs', { host: '127.0.0.1', port, request }))}`);
    expect(r.code).toBe(0);
    expect(seen).toEqual(['GET /patroni']);
    expect(parseHttpResponse(r.stdout)).toEqual({ status: 200, body: '{"state":"running"}' });
  });

  it('fails when nothing listens on the port', async () => {
    const port = await serve(() => ({ body: '' }));
    server!.close();
    const r = await sh(
      `bash -c ${shq(renderProgram('common/http-get.sh.hbs', { host: '127.0.0.1', port, request: 'x' }))}`,
    );
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
  });
});

describe('templates/patroni/rest-auth.py.hbs', () => {
  it('reads the credentials from stdin into a Basic auth value', async () => {
    const program = [
      'import json, sys, base64',
      renderProgram('patroni/rest-auth.py.hbs'),
      'print("Basic " + auth)',
    ].join('\n');
    const r = await sh(python3(program), CRED);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(BASIC);
  });
});

describe('templates/patroni/pending-restart.py.hbs', () => {
  it('exits 1 while GET /patroni shows a pending restart, 0 once it does not', async () => {
    patroni = await startFakePatroni([{ name: 'pg1', role: 'replica', pendingRestart: true }]);
    const m = patroni.members[0]!;
    const guard = python3(
      renderProgram('patroni/pending-restart.py.hbs', { api_client: apiClientLines(fakeApi(m.port)) }),
    );
    expect((await sh(guard)).code).toBe(1);
    m.pendingRestart = false;
    expect((await sh(guard)).code).toBe(0);
    expect(patroni.calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /patroni', 'GET /patroni']);
  });
});

describe('templates/patroni/restart.py.hbs', () => {
  const restart = (port: number, timeoutSec: number) =>
    python3(
      renderProgram('patroni/restart.py.hbs', {
        rest_auth: renderProgram('patroni/rest-auth.py.hbs'),
        api_client: apiClientLines(fakeApi(port)),
        timeout_sec: timeoutSec,
        settle_sec: 0,
        poll_sec: 0.01,
      }),
    );

  it('restarts the primary with the credentials from stdin and returns once it runs again', async () => {
    patroni = await startFakePatroni([{ name: 'pg1', role: 'leader', pendingRestart: true }]);
    const m = patroni.members[0]!;
    const r = await sh(restart(m.port, 5), CRED);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(patroni.calls.find((c) => c.method === 'POST')).toMatchObject({ path: '/restart', auth: BASIC });
    expect(m.state).toBe('running');
    expect(m.pendingRestart).toBe(false);
  });

  it('gives up with a message when the member never runs again', async () => {
    patroni = await startFakePatroni([{ name: 'pg1', role: 'replica', pendingRestart: true, restart: 'hangs' }]);
    const r = await sh(restart(patroni.members[0]!.port, 0.2), CRED);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('member did not come back to running in time');
  });
});

describe('templates/patroni/dcs-config.py.hbs', () => {
  it('compares with GET /config, and with patch sends PATCH /config with Basic auth from stdin', async () => {
    let stored: Record<string, any> = {
      ttl: 30,
      loop_wait: 10,
      postgresql: { parameters: { max_connections: 100, hot_standby: 'on' } },
    };
    const seen: string[] = [];
    const port = await serve((method, url, body, auth) => {
      seen.push(`${method} ${url} ${auth ?? '-'}`);
      if (method === 'PATCH') {
        // Stores parameters as lower-case text, as a server may hand them back.
        const p = JSON.parse(body);
        const text = Object.fromEntries(
          Object.entries(p.postgresql.parameters).map(([k, v]) => [k, String(v).toLowerCase()]),
        );
        stored = { ...stored, ...p, postgresql: { parameters: { ...stored.postgresql.parameters, ...text } } };
      }
      return { body: JSON.stringify(stored) };
    });
    // Values compare as lower-case text: 200 matches '200', 'ON' matches 'on'.
    const want = JSON.stringify({ ttl: 8, postgresql: { parameters: { max_connections: 200, hot_standby: 'ON' } } });
    const program = (patch: boolean) =>
      python3(
        renderProgram('patroni/dcs-config.py.hbs', {
          want,
          api_client: apiClientLines(fakeApi(port)),
          patch,
          rest_auth: patch ? renderProgram('patroni/rest-auth.py.hbs') : '',
        }),
      );
    expect((await sh(program(false))).code).toBe(1);
    const r = await sh(program(true), CRED);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(stored).toMatchObject({
      ttl: 8,
      loop_wait: 10,
      postgresql: { parameters: { max_connections: '200', hot_standby: 'on' } },
    });
    expect((await sh(program(false))).code).toBe(0);
    expect(seen).toEqual(['GET /config -', 'GET /config -', `PATCH /config ${BASIC}`, 'GET /config -']);
  });
});

describe('templates/patroni/replica-state.sh.hbs', () => {
  /** The program with its three inputs replaced by files of a temp dir. */
  function state(o: { standby: boolean; receiver: string; log: string[] }) {
    const dir = mkdtempSync(join(tmpdir(), 'pgha-state-'));
    if (o.standby) writeFileSync(join(dir, 'standby.signal'), '');
    writeFileSync(join(dir, 'receiver'), o.receiver);
    writeFileSync(join(dir, 'log'), o.log.join('\n') + '\n');
    return sh(
      renderProgram('patroni/replica-state.sh.hbs', {
        standby_signal: shq(join(dir, 'standby.signal')),
        wal_receiver_status: `cat ${shq(join(dir, 'receiver'))}`,
        recent_log: `cat ${shq(join(dir, 'log'))}`,
        stuck_lines: shq('ahead of the WAL|invalid record length'),
      }),
    );
  }
  const loop = [
    'LOG: invalid record length at 0/3',
    'FATAL: requested starting point is ahead of the WAL flush position',
    'LOG: invalid record length at 0/3',
  ];

  it('tells primary, streaming, stuck and waiting apart', async () => {
    expect((await state({ standby: false, receiver: '', log: loop })).stdout).toBe('primary\n');
    expect((await state({ standby: true, receiver: 'streaming', log: loop })).stdout).toBe('streaming\n');
    expect((await state({ standby: true, receiver: '', log: loop })).stdout).toBe('stuck\n');
    expect((await state({ standby: true, receiver: 'startup', log: loop.slice(0, 2) })).stdout).toBe('waiting\n');
  });

  it('reads the journal through the shared journal command (fake journalctl)', async () => {
    const f = fakeBin({ journalctl: `printf '%s\\n' ${loop.map(shq).join(' ')}` });
    const dir = mkdtempSync(join(tmpdir(), 'pgha-state-'));
    writeFileSync(join(dir, 'standby.signal'), '');
    const script = renderProgram('patroni/replica-state.sh.hbs', {
      standby_signal: shq(join(dir, 'standby.signal')),
      wal_receiver_status: 'true',
      recent_log: journalCmd('patroni', { since: '-120s' }),
      stuck_lines: shq('ahead of the WAL|invalid record length'),
    });
    expect((await f.t.exec(script)).stdout).toBe('stuck\n');
    expect(f.calls()).toEqual(['journalctl -u patroni --since -120s --no-pager']);
  });
});

describe('templates/etcd/probe-member.sh.hbs', () => {
  const SPLIT = '---split---';
  function probe(dataDir: string) {
    return renderProgram('etcd/probe-member.sh.hbs', {
      member_dir: shq(join(dataDir, 'member')),
      split: SPLIT,
      endpoint_status: 'etcdctl endpoint status -w json',
      member_list: 'etcdctl member list -w json',
    });
  }

  it('prints data present, endpoint status and member list in three parts (fake etcdctl)', async () => {
    const f = fakeBin({ etcdctl: 'case "$1" in endpoint) echo STATUS;; member) echo LIST;; esac' });
    const data = mkdtempSync(join(tmpdir(), 'pgha-etcd-'));
    mkdirSync(join(data, 'member'));
    const r = await f.t.exec(probe(data));
    expect(r.stdout.split(SPLIT).map((p) => p.trim())).toEqual(['yes', 'STATUS', 'LIST']);
    expect(f.calls()).toEqual(['etcdctl endpoint status -w json', 'etcdctl member list -w json']);
  });

  it('keeps going when etcdctl fails, and says no when the data dir holds no member', async () => {
    const f = fakeBin({ etcdctl: 'echo "connection refused" >&2; exit 1' });
    const r = await f.t.exec(probe(mkdtempSync(join(tmpdir(), 'pgha-etcd-'))));
    expect(r.code).toBe(0);
    expect(r.stdout.split(SPLIT).map((p) => p.trim())).toEqual(['no', '', '']);
  });
});
