// Start-up marks: written once per point, and only when PGHA_TRACE_START is set.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { traceMark } from '../../src/util/trace.js';

afterEach(() => vi.restoreAllMocks());

describe('traceMark', () => {
  it('writes nothing without PGHA_TRACE_START', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    traceMark('quiet point', {});
    expect(write).not.toHaveBeenCalled();
  });

  it('writes the time since start the first time a point is reached, and only then', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const env = { PGHA_TRACE_START: '1' };
    traceMark('some point', env);
    traceMark('some point', env);
    traceMark('other point', env);
    const lines = write.mock.calls.map((c) => String(c[0]));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^pgha: some point at \d+\.\d ms\n$/);
    expect(Number(/at ([\d.]+) ms/.exec(lines[0])![1])).toBeGreaterThan(0);
    expect(lines[1]).toMatch(/^pgha: other point at /);
  });
});
