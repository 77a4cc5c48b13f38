import { describe, expect, it } from 'vitest';
import { confirmAction } from '../../src/cli/cluster-command.js';
import { UserError } from '../../src/util/errors.js';

function io(interactive: boolean, answer = '') {
  const written: string[] = [];
  return {
    written,
    io: { interactive, write: (t: string) => void written.push(t), ask: async () => answer },
  };
}
const STEPS = [
  { host: 'pg1', summary: 'steps down as leader and runs on as a replica of pg2' },
  { host: 'pg2', summary: 'becomes the leader' },
];
const LOST = ['sessions on the primary pg1 are cut'];

describe('the cluster commands ask before they act', () => {
  it('without a terminal and without --yes: refused, saying what it would do', async () => {
    const x = io(false);
    const e = await confirmAction('pgha switchover', STEPS, LOST, false, x.io).catch((err) => err);
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toContain('there is no terminal to ask on; nothing was changed');
    expect(e.message).toContain('pg2: becomes the leader');
    expect(e.message).toContain('sessions on the primary pg1 are cut');
  });

  it('on a terminal: says what happens and what is lost, and goes on only after "yes"', async () => {
    const no = io(true, 'no');
    await expect(confirmAction('pgha switchover', STEPS, LOST, false, no.io)).rejects.toThrow(/not confirmed/);
    expect(no.written.join('')).toContain('This loses:\n  - sessions on the primary pg1 are cut');
    await expect(confirmAction('pgha switchover', STEPS, LOST, false, io(true, 'yes').io)).resolves.toBeUndefined();
  });

  it('--yes: no question', async () => {
    const x = io(false);
    await expect(confirmAction('pgha restart', STEPS, LOST, true, x.io)).resolves.toBeUndefined();
    expect(x.written).toEqual([]);
  });
});
