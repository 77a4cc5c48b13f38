// Confirmation before deleting or stopping: what is listed and lost, the refusal without a terminal, and the answer.
import { describe, expect, it } from 'vitest';
import { confirmLoss, lossOf, type ConfirmIO } from '../../src/cli/confirm.js';
import { UserError } from '../../src/util/errors.js';
import type { ProviderChange } from '../../src/providers/types.js';
import { load } from '../inventory/helpers.js';

const inv = load(`cluster: shop
provider: static
network: {subnet: 10.9.0.0/24, vip: 10.9.0.100}
hosts:
  lb1: {address: 10.9.0.21, roles: [haproxy]}
  pg1: {address: 10.9.0.11, roles: [postgres, etcd]}
  pg2: {address: 10.9.0.12, roles: [postgres, etcd]}
`);

const del = (host: string): ProviderChange => ({
  host,
  action: 'delete',
  summary: `delete machine ${host} and its disk`,
});

function fakeIO(interactive: boolean, answer = ''): ConfirmIO & { shown: string; asked: string[] } {
  const io = {
    interactive,
    shown: '',
    asked: [] as string[],
    write(text: string) {
      io.shown += text;
    },
    async ask(q: string) {
      io.asked.push(q);
      return answer;
    },
  };
  return io;
}

async function refusal(p: Promise<void>): Promise<UserError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error('it went on');
}

describe('what a destroy or a stop loses', () => {
  it("names one member's copy, or every copy when all members go", () => {
    expect(lossOf(inv, 'destroy', [del('pg1')])).toEqual([
      'pg1: its copy of the database (PostgreSQL member of shop)',
      'pg1: its etcd member data',
    ]);
    expect(lossOf(inv, 'destroy', [del('lb1'), del('pg1'), del('pg2')])).toEqual([
      'every copy of the database of cluster shop (pg1, pg2)',
      'pg1: its etcd member data',
      'pg2: its etcd member data',
      'lb1: the machine and its disk',
    ]);
  });

  it('a stop of every member stops the cluster; the disks are kept', () => {
    expect(lossOf(inv, 'down', [del('pg1'), del('pg2')])).toEqual([
      'the cluster stops answering until `pgha lab up` (the disks are kept)',
    ]);
    expect(lossOf(inv, 'down', [del('lb1')])).toEqual(['lb1 stop until `pgha lab up` (the disks are kept)']);
  });
});

describe('asking', () => {
  const what = { command: 'pgha destroy', changes: [del('pg1')], lost: ['pg1: its copy of the database'] };

  it('without a terminal refuses, listing what would go and what is lost, and never asks', async () => {
    const io = fakeIO(false);
    const e = await refusal(confirmLoss(what, false, io));
    expect(e.message).toContain('no terminal to ask on; nothing was changed');
    expect(e.message).toContain('pg1: delete machine pg1 and its disk');
    expect(e.message).toContain('- pg1: its copy of the database');
    expect(e.hint).toMatch(/--yes/);
    expect(io.asked).toEqual([]);
  });

  it('--yes goes on without asking, and nothing to remove asks nothing', async () => {
    const io = fakeIO(false);
    await confirmLoss(what, true, io);
    await confirmLoss({ ...what, changes: [] }, false, io);
    expect(io.asked).toEqual([]);
  });

  it('on a terminal shows the list and goes on only after "yes"', async () => {
    const yes = fakeIO(true, ' Yes\n');
    await confirmLoss(what, false, yes);
    expect(yes.shown).toContain('pgha destroy will:\n  pg1: delete machine pg1 and its disk');
    expect(yes.shown).toContain('This loses:');
    expect(yes.asked).toHaveLength(1);
    const no = fakeIO(true, 'y');
    const e = await refusal(confirmLoss(what, false, no));
    expect(e.message).toBe('pgha destroy: not confirmed; nothing was changed');
  });
});
