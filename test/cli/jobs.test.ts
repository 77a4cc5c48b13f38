// Progress without a terminal: concurrent jobs all run at once and a failed one does not stop the others; a
// plain step's host line names its step (steps of other hosts print between).
import { describe, expect, it, vi } from 'vitest';
import { makeOut } from '../../src/cli/output.js';
import type { Step } from '../../src/engine/types.js';

describe('jobs without a terminal', () => {
  it('concurrent jobs start together and each settles, even after one failed', async () => {
    const out = makeOut('plain', 0, false);
    const started: string[] = [];
    const finished: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const job = (name: string, fail = false) => ({
      title: name,
      run: async () => {
        started.push(name);
        await gate;
        if (fail) throw new Error(`${name} failed`);
        finished.push(name);
      },
    });
    const all = out.jobs([job('a', true), job('b'), job('c')], { concurrent: true });
    await new Promise((r) => setTimeout(r, 0));
    expect(started).toEqual(['a', 'b', 'c']); // none waited for the one before
    release();
    await all;
    expect(finished).toEqual(['b', 'c']);
  });

  it('sequential jobs run one after the other', async () => {
    const out = makeOut('plain', 0, false);
    const seen: string[] = [];
    const job = (name: string) => ({
      title: name,
      run: async () => {
        seen.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, 1));
        seen.push(`end ${name}`);
      },
    });
    await out.jobs([job('a'), job('b')]);
    expect(seen).toEqual(['start a', 'end a', 'start b', 'end b']);
  });

  it("a host's outcome line names its step", () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const out = makeOut('plain', 0, false);
      const step: Step = { id: 'etcd.install', title: 'Install etcd', resources: () => [] };
      out.events.hostDone?.(step, {
        host: 'pg1',
        step: step.id,
        changes: [],
        restarted: [],
        reloaded: [],
        reason: 'no changes: all 2 resources as wanted',
      });
      expect(write.mock.calls.map((c) => String(c[0]))).toEqual([
        '  pg1: no changes: all 2 resources as wanted [etcd.install]\n',
      ]);
    } finally {
      write.mockRestore();
    }
  });
});
