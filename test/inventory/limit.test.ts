import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { UserError } from '../../src/util/errors.js';
import { loadInventory, resolveLimit } from '../../src/inventory/load.js';
import { catalog } from '../../src/components/index.js';

const inv = loadInventory(join(import.meta.dirname, '..', '..', 'inventory', 'lab.yml'), catalog);
const names = (expr: string) => resolveLimit(inv, expr).map((h) => h.name);

describe('--limit', () => {
  it('host names, groups (roles) and all; inventory order, no duplicates', () => {
    expect(names('pg2')).toEqual(['pg2']);
    expect(names('haproxy')).toEqual(['lb1', 'lb2']);
    expect(names('pg3, lb1,etcd')).toEqual(['lb1', 'pg1', 'pg2', 'pg3']);
    expect(names('all')).toEqual(['lb1', 'lb2', 'pg1', 'pg2', 'pg3', 'bk1']);
  });

  it('! removes hosts; only exclusions start from every host', () => {
    expect(names('postgres,!pg1')).toEqual(['pg2', 'pg3']);
    expect(names('!haproxy')).toEqual(['pg1', 'pg2', 'pg3', 'bk1']);
  });

  it('an unknown name is a UserError with the near name', () => {
    expect(() => names('pg4')).toThrow(UserError);
    expect(() => names('pg1,hapoxy')).toThrow(/no host or group named 'hapoxy' .*: did you mean 'haproxy'\?/);
    const e = (() => {
      try {
        names('zzzzzz');
      } catch (err) {
        return err as UserError;
      }
      throw new Error('expected a UserError');
    })();
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).not.toMatch(/did you mean/);
    expect(e.hint).toMatch(
      /hosts: lb1, lb2, pg1, pg2, pg3, bk1; groups: etcd, postgres, haproxy, monitor, backup, client, all/,
    );
  });

  it('an empty expression or one that selects nothing is an error', () => {
    expect(() => names(' , ')).toThrow(/--limit is empty/);
    expect(() => names('pg1,!pg1')).toThrow(/selects no host/);
  });

  it('loadInventory validates the limit and keeps the chosen names', () => {
    const file = join(import.meta.dirname, '..', '..', 'inventory', 'lab.yml');
    expect(loadInventory(file, catalog, { limit: 'pg1,haproxy' }).limit).toEqual(['lb1', 'lb2', 'pg1']);
    expect(() => loadInventory(file, catalog, { limit: 'pg9' })).toThrow(/did you mean 'pg1'\?/);
  });
});
