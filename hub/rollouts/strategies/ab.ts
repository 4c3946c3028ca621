import type { RolloutStrategy } from './types.js';
import { cohortSlice } from './types.js';

/**
 * A/B: every selected device takes part; the first `stages[0]`% by cohort
 * position run the candidate (arm `candidate`), the others the `control` version. Gates
 * guard the candidate arm (a failing one rolls both arms back); once its bake passes the
 * test keeps running (`hold`) until an operator ends it. `rollouts status` compares the arms.
 */
export const abStrategy: RolloutStrategy = {
  targets: (spec, _stage, ranked) => {
    const candidates = new Set(cohortSlice(ranked, spec.stages[0] ?? 50));
    return ranked.map((deviceId) => ({ deviceId, arm: candidates.has(deviceId) ? 'candidate' : 'control' }));
  },
  pin: (spec, arm) => ({ version: arm === 'candidate' ? spec.version : (spec.control as string) }),
  reports: (spec, arm) => ({
    version: arm === 'candidate' ? spec.version : (spec.control as string),
    role: 'active',
  }),
  finish: 'hold',
};
