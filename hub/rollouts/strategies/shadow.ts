import type { RolloutStrategy } from './types.js';
import { cohortSlice } from './types.js';

/**
 * Shadow: stage devices keep answering with the version they run and run
 * the candidate beside it on the same inputs; gates judge the candidate's shadow metrics
 * (errors, latency, `agreement`). When the last stage passes, every stage device is
 * promoted to the candidate. A device with no version to keep cannot shadow.
 */
export const shadowStrategy: RolloutStrategy = {
  targets: (spec, stage, ranked) =>
    cohortSlice(ranked, spec.stages[stage] ?? 100).map((deviceId) => ({ deviceId, arm: 'candidate' })),
  pin: (spec, _arm, previous) => {
    if (previous === null) return 'no active version to shadow (the device runs nothing of this model)';
    if (previous === spec.version) return `already runs ${spec.version}`;
    return { version: previous, shadow: spec.version };
  },
  reports: (spec) => ({ version: spec.version, role: 'shadow' }),
  finish: 'promote',
  promoted: (spec) => ({ version: spec.version }),
};
