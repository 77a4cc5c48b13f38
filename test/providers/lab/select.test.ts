// Which lab machines a stop or destroy touches under --limit, and when the bridge, the cache and the state go.
import { describe, expect, it } from 'vitest';
import { labPlan, type LabMachine } from '../../../src/providers/lab/select.js';

const m = (name: string, running: boolean, onDisk = true): LabMachine => ({ name, running, onDisk });
const lab = [m('pg1', true), m('pg2', true), m('lb1', false), m('lb2', true), m('old', false)];

describe('lab plan under --limit', () => {
  it('without a limit: every machine, shared parts and state go', () => {
    expect(labPlan('destroy', lab)).toEqual({
      chosen: ['pg1', 'pg2', 'lb1', 'lb2', 'old'],
      remove: ['pg1', 'pg2', 'lb1', 'lb2', 'old'],
      othersRunning: [],
      stopShared: true,
      removeState: true,
    });
  });

  it('destroy of one host: only that one, the bridge and cache stay for the running others', () => {
    expect(labPlan('destroy', lab, ['lb2'])).toEqual({
      chosen: ['lb2'],
      remove: ['lb2'],
      othersRunning: ['pg1', 'pg2'],
      stopShared: false,
      removeState: false,
    });
  });

  it('down of the running hosts while stopped ones keep their disks: shared parts stop, nothing removed', () => {
    const p = labPlan('down', lab, ['pg1', 'pg2', 'lb2']);
    expect(p.chosen).toEqual(['pg1', 'pg2', 'lb2']);
    expect(p.remove).toEqual([]);
    expect(p.stopShared).toBe(true);
    expect(p.removeState).toBe(false);
  });

  it('destroy of every host with a disk: the state goes even if the inventory names hosts never made', () => {
    const p = labPlan('destroy', [m('pg1', true), m('pg2', false, false)], ['pg1']);
    expect(p.remove).toEqual(['pg1']);
    expect(p.stopShared).toBe(true);
    expect(p.removeState).toBe(true);
  });

  it('a stopped machine left on disk outside the limit keeps the state but not the bridge', () => {
    const p = labPlan('destroy', [m('pg1', true), m('pg2', false)], ['pg1']);
    expect(p.stopShared).toBe(true);
    expect(p.removeState).toBe(false);
  });

  it('a chosen machine without a disk is not listed for removal', () => {
    expect(labPlan('destroy', [m('pg1', false, false), m('pg2', true)], ['pg1']).remove).toEqual([]);
  });
});
