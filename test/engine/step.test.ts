// Steps with typed facts (defineStep): the facts reach resources() as their parsers typed them; the guess made
// before the facts are read sees none; a parser that throws fails the host as before.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RemoteError, RunError } from '../../src/util/errors.js';
import { defineStep } from '../../src/engine/step.js';
import type { Transport } from '../../src/engine/types.js';
import { LocalTransport, fakeHost, fakeInventory, testRunner } from './local-transport.js';

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-step-'));
  const host = fakeHost('a');
  const inv = fakeInventory(dir, [host]);
  const transports = new Map<string, Transport>([['a', new LocalTransport(host)]]);
  const runner = testRunner(inv, transports, { dir });
  return { dir, host, runner };
}

describe('typed facts', () => {
  it('hands each fact to resources() as its parser returned it', async () => {
    const { dir, host, runner } = setup();
    const seen: unknown[] = [];
    const step = defineStep({
      id: 's.typed',
      title: 'typed facts',
      facts: () => ({
        port: { script: 'echo 5432', parse: (o) => Number(o.trim()) },
        names: { script: 'printf "pg1\\npg2\\n"', parse: (o) => o.trim().split('\n') },
      }),
      resources(_ctx, facts) {
        seen.push({ ...facts });
        // facts.port is a number and facts.names a string[] here: no casts.
        if (facts.port === undefined || facts.names === undefined) return [];
        return [
          {
            kind: 'file',
            path: join(dir, 'out'),
            content: `${facts.port + 1} ${facts.names.map((n) => n.toUpperCase()).join(',')}\n`,
          },
        ];
      },
    });
    const [res] = await runner.runStep(step, [host]);
    expect(res!.error).toBeUndefined();
    expect(readFileSync(join(dir, 'out'), 'utf8')).toBe('5433 PG1,PG2\n');
    // First the guess (no facts yet), then the real call with the parsed facts.
    expect(seen).toEqual([{}, { port: 5432, names: ['pg1', 'pg2'] }]);
  });

  it("fails the host with the fact's name when its parser throws", async () => {
    const { host, runner } = setup();
    const step = defineStep({
      id: 's.badfact',
      title: 'bad fact',
      facts: () => ({
        config: {
          script: 'echo "{not json"',
          parse: (o): { port: number } => JSON.parse(o),
        },
      }),
      resources: (_ctx, facts) =>
        facts.config ? [{ kind: 'command', label: `port ${facts.config.port}`, script: 'true' }] : [],
    });
    const err = await runner.runStep(step, [host]).catch((e) => e);
    expect(err).toBeInstanceOf(RunError);
    const cause = (err as RunError).failures[0]!.error;
    expect(cause).toBeInstanceOf(RemoteError);
    expect(cause.message).toMatch(/^a: cannot read fact "config": /);
    expect((cause as RemoteError).detail).toContain('{not json');
  });
});
