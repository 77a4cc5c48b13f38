// The port hint of failed runs: the ports named by "Address already in use" lines as HAProxy, PostgreSQL and
// etcd write them (lines as seen on lab hosts), and never a file's line number.
import { describe, expect, it } from 'vitest';
import { formatError, takenPorts } from '../../src/cli/output.js';
import { CheckError, RemoteError, RunError } from '../../src/util/errors.js';

const HAPROXY =
  'Nov 22 07:22:39 lb1 haproxy[254]: [ALERT]    (254) : Binding [/etc/haproxy/haproxy.cfg:35] for proxy primary: cannot bind socket (Address already in use) for [0.0.0.0:5001]';
const PG = [
  'Nov 22 07:19:15 pg3 patroni[3090]: 2026-11-22 07:19:15.739 UTC [3090] LOG:  could not bind IPv4 address "0.0.0.0": Address already in use',
  'Nov 22 07:19:15 pg3 patroni[3090]: 2026-11-22 07:19:15.739 UTC [3090] HINT:  Is another postmaster already running on port 5432? If not, wait a few seconds and retry.',
].join('\n');

describe('takenPorts', () => {
  it('reads the port from HAProxy, PostgreSQL and Go (etcd) messages', () => {
    expect(takenPorts(HAPROXY)).toEqual(['5001']);
    expect(takenPorts(PG)).toEqual(['5432']);
    expect(takenPorts('listen tcp 10.0.0.11:2379: bind: address already in use')).toEqual(['2379']);
    expect(takenPorts('Starting proxy stats: cannot bind socket (Address already in use) [:::8404]')).toEqual(['8404']);
  });

  it('finds nothing where nothing is in use', () => {
    expect(takenPorts('Binding [/etc/haproxy/haproxy.cfg:35] for proxy primary: ok')).toEqual([]);
  });
});

describe('formatError', () => {
  it('adds the cause with host and port to a failed check, before what to do next', () => {
    const e = new RunError('haproxy.config', [
      {
        host: 'lb1',
        error: new CheckError(
          'lb1',
          'haproxy backends',
          'primary: [pg1]',
          'stats page answered nothing',
          HAPROXY,
          'see the log',
        ),
      },
    ]);
    const text = formatError(e, false);
    expect(text).toContain('lb1: check "haproxy backends" failed');
    expect(text).toMatch(/cause: port 5001 taken by another process on lb1 \(Address already in use\).*sport = :5001/);
    expect(text.indexOf('cause:')).toBeLessThan(text.indexOf('next:'));
  });

  it('reads the detail of a failed command too, and says nothing when no port is taken', () => {
    expect(formatError(new RemoteError('pg3', 'start patroni failed (exit 1)', PG), false)).toMatch(
      /cause: port 5432 taken by another process on pg3/,
    );
    expect(formatError(new RemoteError('pg3', 'start patroni failed (exit 1)', 'something else'), false)).not.toContain(
      'cause:',
    );
  });
});
