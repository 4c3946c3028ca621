import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildReportedState } from '../../agent/state/reported.js';
import type { InferenceReport } from '../../shared/index.js';

// A hub of the previous release reads per-model inference reports strictly: an agent that does
// not know its hub reads `pv` yet leaves out the fields added since (test/compat/ runs both
// releases against each other).

const inference = {
  profile: { name: 'x86-64-cpu', source: 'config', reason: 'set in the config' },
  cache: { hits: 0, misses: 0, evictions: 0, entries: 0, bytes: 0, maxBytes: 0 },
  models: [
    {
      name: 'm',
      version: '1.0.0',
      precision: 'fp32',
      engine: 'onnx:cpu',
      rejected: [],
      warmup: { source: 'metadata', label: 'dynamic dims 16' },
    },
  ],
} as unknown as InferenceReport;

const base = {
  at: 1,
  epoch: 'epoch12345678',
  startedAt: 1,
  appliedRev: 0,
  outcome: undefined,
  config: { logLevel: 'info', reportIntervalS: 60, labels: {} } as never,
  outbox: {},
  inference,
};

test('warm-up records go to a hub known to read the current protocol, not to one that may be older', () => {
  const older = buildReportedState({ ...base, hubReadsCurrent: false });
  assert.equal('warmup' in (older.inference?.models[0] ?? {}), false);
  const current = buildReportedState({ ...base, hubReadsCurrent: true });
  assert.deepEqual(current.inference?.models[0]?.warmup, { source: 'metadata', label: 'dynamic dims 16' });
});
