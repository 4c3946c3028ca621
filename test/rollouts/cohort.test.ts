import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rankDevices } from '../../hub/rollouts/driver.js';
import { ROLLOUT_STRATEGIES } from '../../hub/rollouts/strategies/index.js';
import type { RolloutRecord } from '../../hub/store/rollout-types.js';
import type { DeviceRecord } from '../../hub/store/types.js';
import { RolloutRequestSchema } from '../../shared/index.js';

const device = (id: string, labels: Record<string, string> = {}, profile?: string): DeviceRecord => ({
  id,
  name: null,
  labels,
  secretHash: 'x',
  createdAt: 0,
  online: true,
  conn: null,
  lastSeen: null,
  reported: profile ? { inference: { profile: { name: profile } } } : null,
  reportedAt: null,
});

const rollout = (id: string, request: Record<string, unknown>): RolloutRecord => ({
  id,
  spec: RolloutRequestSchema.parse({ model: 'm', version: '2.0.0', ...request }),
  state: 'running',
  stage: 0,
  stageStartedAt: 0,
  createdAt: 0,
  updatedAt: 0,
  reason: null,
});

test('cohorts: stages are cumulative and a device never changes bucket between stages', () => {
  const fleet = Array.from({ length: 200 }, (_, i) => device(`dev-${i}`));
  const r = rollout('r-aaaaaaaaaaaa', { stages: [1, 10, 50, 100] });
  const ranked = rankDevices(r, fleet);
  const stages = r.spec.stages.map((_, i) =>
    ROLLOUT_STRATEGIES.canary.targets(r.spec, i, ranked).map((t) => t.deviceId),
  );
  assert.deepEqual(
    stages.map((s) => s.length),
    [2, 20, 100, 200],
  );
  for (let i = 1; i < stages.length; i++) {
    const later = new Set(stages[i]);
    assert.ok(
      stages[i - 1]?.every((d) => later.has(d)),
      `stage ${i} keeps every device of stage ${i - 1}`,
    );
  }
  // Same rollout, fleet listed in another order and grown: the old devices keep their order
  // (new ones slot in by their own position; devices already assigned stay assigned).
  const grown = [...fleet, ...Array.from({ length: 20 }, (_, i) => device(`new-${i}`))].reverse();
  assert.deepEqual(
    rankDevices(r, grown).filter((d) => !d.startsWith('new-')),
    ranked,
  );
  // Another rollout draws another cohort.
  const other = rankDevices(rollout('r-bbbbbbbbbbbb', {}), fleet).slice(0, 20);
  assert.ok(other.filter((d) => stages[1]?.includes(d)).length < 10);
});

test('cohorts: a stage above 0% holds at least one device; selectors use labels and the reported profile', () => {
  const fleet = [
    device('a', { tag: 'edge' }, 'raspberry-pi-4'),
    device('b', { tag: 'edge' }, 'x86-64-cuda'),
    device('c'),
  ];
  const r = rollout('r-cccccccccccc', { selector: { tag: 'edge', profile: 'raspberry-pi-4' } });
  assert.deepEqual(rankDevices(r, fleet), ['a']);
  assert.equal(
    ROLLOUT_STRATEGIES.canary.targets(r.spec, 0, ['a']).length,
    1,
    '1% of one device is that device',
  );
  const ab = rollout('r-dddddddddddd', { mode: 'ab', control: '1.0.0', stages: [50] });
  const arms = ROLLOUT_STRATEGIES.ab.targets(ab.spec, 0, ['x', 'y', 'z', 'w']).map((t) => t.arm);
  assert.deepEqual(arms, ['candidate', 'candidate', 'control', 'control']);
  assert.deepEqual(ROLLOUT_STRATEGIES.shadow.pin(r.spec, 'candidate', '1.0.0'), {
    version: '1.0.0',
    shadow: '2.0.0',
  });
  assert.match(
    String(ROLLOUT_STRATEGIES.shadow.pin(r.spec, 'candidate', null)),
    /no active version to shadow/,
  );
});
