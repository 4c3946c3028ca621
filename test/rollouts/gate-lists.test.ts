import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatStatus, ROLLOUTS_HELP } from '../../cli/commands/rollouts.js';
import { GATE_METRICS } from '../../shared/index.js';

// The CLI's gate help and its status table come from GATE_METRICS, the list the hub's gate
// parser uses: a metric added there shows in both without another edit.

describe('rollouts CLI gate lists', () => {
  const names = Object.keys(GATE_METRICS);

  it('the help names every gate metric, health and evidence apart', () => {
    for (const name of names) assert.match(ROLLOUTS_HELP, new RegExp(`\\b${name}\\b`), name);
    assert.match(ROLLOUTS_HELP, /drift_psi, drift_ks\n\(health:/);
    assert.match(ROLLOUTS_HELP, /and requests, compared\n\(evidence:/);
  });

  it('the status table has a row per gate metric, with the arm value', () => {
    const metrics = Object.fromEntries(names.map((n, i) => [n, i + 0.5]));
    const text = formatStatus({
      rollout: { id: 'r-1', spec: { mode: 'canary', model: 'm', version: '2.0.0' }, state: 'done' },
      stage: { index: 0, of: 1, percent: 100, bakeLeftMs: 0 },
      gates: [],
      arms: [{ arm: 'new', version: '2.0.0', role: 'candidate', reporting: 1, devices: 1, metrics }],
      devices: [],
      timeline: [],
    });
    names.forEach((name, i) => {
      assert.match(text, new RegExp(`^${name}\\s+${i + 0.5}\\s*$`, 'm'), name);
    });
  });
});
