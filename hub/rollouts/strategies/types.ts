import type { ModelRole, RolloutRequest } from '../../../shared/index.js';
import type { RolloutArm } from '../../store/rollout-types.js';

/** What a device of an arm is pinned to: the version it runs, and a shadow candidate if any. */
export interface ArmPin {
  version: string;
  shadow?: string;
}

/**
 * A rollout strategy: pure functions of the rollout's spec, picked from
 * {@link ROLLOUT_STRATEGIES} by `spec.mode`. The driver does every I/O around them.
 */
export interface RolloutStrategy {
  /**
   * The devices the current stage holds and their arm, from the eligible devices ranked by
   * cohort position (`ranked[0]` first). Cumulative: a later stage holds every device of an
   * earlier one, since the ranking never changes.
   */
  targets(
    spec: RolloutRequest,
    stage: number,
    ranked: readonly string[],
  ): Array<{ deviceId: string; arm: RolloutArm }>;
  /**
   * The pin of a device of `arm`, given the version its desired state named before
   * (`previous`, null when none); a string says why this device cannot take part.
   */
  pin(spec: RolloutRequest, arm: RolloutArm, previous: string | null): ArmPin | string;
  /** Which version and role a device of `arm` reports its metrics under. */
  reports(spec: RolloutRequest, arm: RolloutArm): { version: string; role: ModelRole };
  /**
   * What the last stage passing means: `complete` (nothing more to do), `promote` (pin
   * every candidate device to `promoted(previous)`, then complete), or `hold` (stay running
   * until an operator ends it: an A/B test keeps both arms).
   */
  readonly finish: 'complete' | 'promote' | 'hold';
  /** The pin a promotion gives a candidate device. */
  promoted?(spec: RolloutRequest): ArmPin;
}

/** The first `ceil(pct% · n)` of `ranked`: at least one device for a stage above 0%. */
export function cohortSlice(ranked: readonly string[], pct: number): string[] {
  return ranked.slice(0, Math.ceil((pct / 100) * ranked.length));
}
