import type { RolloutStrategy } from './types.js';
import { cohortSlice } from './types.js';

/**
 * Canary: stage by stage, a growing cohort runs the candidate version as
 * its active one; gates judge the candidate's own metrics on those devices.
 */
export const canaryStrategy: RolloutStrategy = {
  targets: (spec, stage, ranked) =>
    cohortSlice(ranked, spec.stages[stage] ?? 100).map((deviceId) => ({ deviceId, arm: 'candidate' })),
  pin: (spec) => ({ version: spec.version }),
  reports: (spec) => ({ version: spec.version, role: 'active' }),
  finish: 'complete',
};
