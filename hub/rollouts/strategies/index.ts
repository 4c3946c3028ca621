import type { RolloutMode } from '../../../shared/index.js';
import { abStrategy } from './ab.js';
import { canaryStrategy } from './canary.js';
import { shadowStrategy } from './shadow.js';
import type { RolloutStrategy } from './types.js';

/** Every rollout strategy by its mode (`RolloutModeSchema`): an unknown mode is a schema error. */
export const ROLLOUT_STRATEGIES: Readonly<Record<RolloutMode, RolloutStrategy>> = {
  canary: canaryStrategy,
  shadow: shadowStrategy,
  ab: abStrategy,
};

export type { ArmPin, RolloutStrategy } from './types.js';
