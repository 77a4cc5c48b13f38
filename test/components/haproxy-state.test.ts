// HAProxy's server state across reloads: the script haproxy.service runs before a start or a reload, run against
// a fake socat (the running process's "show servers state") and a real unix socket, and its systemd drop-in.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import type { FileResource } from '../../src/engine/types.js';
import {
  HAPROXY_CONFIG,
  HAPROXY_STATE_DROPIN,
  HAPROXY_STATE_FILE,
  HAPROXY_STATE_SCRIPT,
  HAPROXY_VALIDATE,
  haproxySteps,
} from '../../src/components/haproxy/steps.js';
import { ctxFor, makeInventory, plan, stepById, render } from './helpers.js';

const HEADER =
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port';
// As HAProxy 2.6 prints it: pg1 is the primary (2 = running), pg2 down in the primary pool, up in the replicas.
const DUMP = [
  '1',
  HEADER,
  '3 primary 1 pg1 10.77.0.11 2 0 1 1 812 15 3 2 6 0 0 0 - 5432 - 0 8008 - - 0',
  '3 primary 2 pg2 10.77.0.12 0 0 1 1 812 17 2 0 6 0 0 0 - 5432 - 0 8008 - - 0',
  '3 primary 3 pg3 10.77.0.99 0 0 1 1 812 17 2 0 6 0 0 0 - 5432 - 0 8008 - - 0',
  '4 replicas 2 pg2 10.77.0.12 2 0 1 1 812 15 3 2 6 0 0 0 - 5432 - 0 8008 - - 0',
  '4 replicas 1 pg1 10.77.0.11 0 0 1 1 812 0 0 0 6 0 0 0 - 5432 - 0 8008 - - 0',
  '',
].join('\n');

const CFG = `global
    stats socket /run/haproxy/admin.sock mode 660 level admin
    server-state-file /var/lib/haproxy/server-state

defaults
    mode tcp
    load-server-state-from-file global

listen stats
    mode http
    bind *:8404

listen primary
    bind *:5001
    default-server inter 500ms fall 2 rise 1
    server pg1 10.77.0.11:5432 maxconn 200 check port 8008
    server pg2 10.77.0.12:5432 maxconn 200 check port 8008
    server pg3 10.77.0.13:5432 maxconn 200 check port 8008
    server pg4 10.77.0.14:5432 maxconn 200 check port 8008

listen replicas
    bind *:5002
    server pg1 10.77.0.11:5432 maxconn 200 check port 8008
    server pg2 10.77.0.12:5432 maxconn 200 check port 8008

frontend prometheus
    bind 10.77.0.21:8405
`;

let dir: string;
let sock: Server | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgha-hastate-'));
  writeFileSync(join(dir, 'haproxy.cfg'), CFG);
  writeFileSync(join(dir, 'dump'), DUMP);
  // The fake socat prints the dump when it is asked for the state, and records what it was sent.
  writeFileSync(
    join(dir, 'socat'),
    `#!/bin/sh\ncat > "${dir}/asked"\nif [ -n "\${FAKE_SOCAT_FAIL:-}" ]; then exit 1; fi\ncat "${dir}/dump"\n`,
  );
  chmodSync(join(dir, 'socat'), 0o755);
  writeFileSync(join(dir, 'script'), render('haproxy/server-state.sh.hbs', {}));
});

afterEach(async () => {
  if (sock) await new Promise((r) => sock!.close(r));
  sock = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function listen(): Promise<string> {
  const path = join(dir, 'admin.sock');
  sock = createServer();
  await new Promise<void>((r) => sock!.listen(path, r));
  return path;
}

function runScript(env: Record<string, string> = {}, socket = join(dir, 'absent.sock')): string[] {
  execFileSync('sh', [join(dir, 'script')], {
    env: {
      PATH: `${dir}:${process.env.PATH}`,
      CONFIG: join(dir, 'haproxy.cfg'),
      PGHA_HAPROXY_STATE: join(dir, 'state'),
      PGHA_HAPROXY_SOCKET: socket,
      ...env,
    },
  });
  return readFileSync(join(dir, 'state'), 'utf8').split('\n');
}

const rows = (lines: string[]) => lines.filter((l) => l && !l.startsWith('#') && l !== '1').map((l) => l.split(' '));

describe('haproxy server-state script', () => {
  it('keeps the state of servers at the same address and starts the others DOWN', async () => {
    const lines = runScript({}, await listen());
    expect(readFileSync(join(dir, 'asked'), 'utf8')).toBe('show servers state\n');
    expect(lines[0]).toBe('1');
    const byKey = new Map(rows(lines).map((f) => [`${f[1]}/${f[3]}`, f]));
    // One line per server of the new config, none for the stats and prometheus sections.
    expect([...byKey.keys()].sort()).toEqual([
      'primary/pg1',
      'primary/pg2',
      'primary/pg3',
      'primary/pg4',
      'replicas/pg1',
      'replicas/pg2',
    ]);
    // Carried over as the running process printed them.
    expect(lines).toContain('3 primary 1 pg1 10.77.0.11 2 0 1 1 812 15 3 2 6 0 0 0 - 5432 - 0 8008 - - 0');
    expect(lines).toContain('4 replicas 2 pg2 10.77.0.12 2 0 1 1 812 15 3 2 6 0 0 0 - 5432 - 0 8008 - - 0');
    // ... except a check status of 0, which would keep HAProxy from ever checking the server.
    expect(lines).toContain('4 replicas 1 pg1 10.77.0.11 0 0 1 1 812 1 0 0 6 0 0 0 - 5432 - 0 8008 - - 0');
    // pg3's address changed and pg4 is new: DOWN (op state 0, health 0) at the configured address and port.
    for (const [k, addr] of [
      ['primary/pg3', '10.77.0.13'],
      ['primary/pg4', '10.77.0.14'],
    ] as const) {
      const f = byKey.get(k)!;
      expect(f).toHaveLength(20);
      expect(f[4]).toBe(addr);
      expect(f[5]).toBe('0');
      expect(f[10]).toBe('1'); // "initializing": with 0 HAProxy 2.6 never runs the server's checks
      expect(f[12]).toBe('0');
      expect(f[18]).toBe('5432');
    }
  });

  it('with no running HAProxy (a start), every server starts DOWN', () => {
    const r = rows(runScript());
    expect(r).toHaveLength(6);
    expect(r.every((f) => f[5] === '0' && f.length === 20)).toBe(true);
  });

  it('a socket that does not answer gives the same as no process, and the script still succeeds', async () => {
    const r = rows(runScript({ FAKE_SOCAT_FAIL: '1' }, await listen()));
    expect(r).toHaveLength(6);
    expect(r.every((f) => f[5] === '0')).toBe(true);
  });

  it('a port change of the same server is not carried over', async () => {
    writeFileSync(
      join(dir, 'haproxy.cfg'),
      CFG.replace(
        '10.77.0.11:5432 maxconn 200 check port 8008\n    server pg2 10.77.0.12:5432 maxconn 200 check port 8008\n    server pg3',
        '10.77.0.11:6543 maxconn 200 check port 8008\n    server pg2 10.77.0.12:5432 maxconn 200 check port 8008\n    server pg3',
      ),
    );
    const f = rows(runScript({}, await listen())).find((x) => x[1] === 'primary' && x[3] === 'pg1')!;
    expect(f[5]).toBe('0');
    expect(f[18]).toBe('6543');
  });
});

describe('haproxy config validation', () => {
  // As the file kind runs it: %s is the temp file, the command's output is kept for the error message.
  function validate(rc: number): { code: number; checked: string; state: string; left: string[] } {
    writeFileSync(
      join(dir, 'haproxy'),
      `#!/bin/sh\necho "$@" > "${dir}/args"\ncat "$4" > "${dir}/checked"\ncat "${dir}/new.cfg.state" > "${dir}/state-seen"\nexit ${rc}\n`,
    );
    chmodSync(join(dir, 'haproxy'), 0o755);
    writeFileSync(join(dir, 'new.cfg'), CFG);
    const cmd = HAPROXY_VALIDATE.split('%s').join('"$tmp"');
    const r = spawnSync('sh', ['-c', `tmp=${dir}/new.cfg\nif ! out=$(${cmd} 2>&1); then exit 3; fi`], {
      env: { PATH: `${dir}:${process.env.PATH}` },
    });
    return {
      code: r.status ?? -1,
      checked: readFileSync(join(dir, 'checked'), 'utf8'),
      state: readFileSync(join(dir, 'state-seen'), 'utf8'),
      left: readdirSync(dir),
    };
  }

  it('checks a copy that loads an empty server state, with warnings as errors, and removes the copy', () => {
    const r = validate(0);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'args'), 'utf8').trim()).toBe(`-dW -c -f ${dir}/new.cfg.check`);
    expect(r.checked).toContain(`\n    server-state-file ${dir}/new.cfg.state\n`);
    expect(r.state).toBe('1\n'); // a state file with no server in it, as the check saw it
    expect(r.checked).not.toContain('/var/lib/haproxy/server-state');
    expect(r.checked).toContain('load-server-state-from-file global');
    expect(r.checked).toContain('server pg4 10.77.0.14:5432');
    expect(r.left).not.toContain('new.cfg.check');
    expect(r.left).not.toContain('new.cfg.state');
  });

  it('a config HAProxy refuses fails the validation', () => {
    const r = validate(1);
    expect(r.code).toBe(3);
    expect(r.left).not.toContain('new.cfg.check');
  });
});

describe('haproxy server-state wiring', () => {
  it('the config names the state file and loads it; the drop-in runs the script after validation, before the signal', async () => {
    const rs = (await plan(
      stepById(haproxySteps, 'haproxy.config'),
      ctxFor(makeInventory(), 'lb1'),
      {},
    )) as FileResource[];
    const at = (p: string) => rs.find((r) => r.kind === 'file' && r.path === p)!;
    const cfg = at(HAPROXY_CONFIG).content;
    expect(cfg).toMatch(new RegExp(`\\nglobal\\n( {4}.*\\n)* {4}server-state-file ${HAPROXY_STATE_FILE}\\n`));
    expect(cfg).toMatch(/\ndefaults\n( {4}.*\n)* {4}load-server-state-from-file global\n/);
    expect(at(HAPROXY_STATE_SCRIPT).mode).toBe('0755');
    const dropin = at(HAPROXY_STATE_DROPIN)
      .content.split('\n')
      .filter((l) => /^Exec/.test(l));
    expect(dropin).toEqual([
      `ExecStartPre=${HAPROXY_STATE_SCRIPT}`,
      'ExecReload=',
      'ExecReload=/usr/sbin/haproxy -Ws -f $CONFIG -c -q $EXTRAOPTS',
      `ExecReload=${HAPROXY_STATE_SCRIPT}`,
      'ExecReload=/bin/kill -USR2 $MAINPID',
    ]);
    // The script and the drop-in are in place before the config whose reload runs them.
    const paths = rs.filter((r) => r.kind === 'file').map((r) => r.path);
    expect(paths.indexOf(HAPROXY_CONFIG)).toBeGreaterThan(paths.indexOf(HAPROXY_STATE_DROPIN));
  });
});
