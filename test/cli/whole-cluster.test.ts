// With --limit, a step that changes the whole cluster at once (Patroni's PATCH /config) is left out, and said so.
import { describe, expect, it } from 'vitest';
import { withoutWholeCluster } from '../../src/cli/playbook-run.js';
import { patroniSteps } from '../../src/components/patroni/steps.js';

const steps = patroniSteps.map((step) => ({ step }));

describe('withoutWholeCluster', () => {
  it('leaves out patroni.dcs with --limit and names it with what it would change', () => {
    const lines: string[] = [];
    const kept = withoutWholeCluster(steps, true, (l) => lines.push(l));
    expect(kept.map((x) => x.step.id)).toEqual(['patroni.install', 'patroni.tls', 'patroni.config', 'patroni.restart']);
    expect(lines).toEqual([
      'patroni.dcs: not run with --limit (PATCH /config changes the DCS settings and cluster-wide parameters of every member); run without --limit to apply it',
    ]);
  });

  it('keeps every step without --limit, silently', () => {
    const lines: string[] = [];
    expect(withoutWholeCluster(steps, false, (l) => lines.push(l))).toHaveLength(steps.length);
    expect(lines).toEqual([]);
  });
});
