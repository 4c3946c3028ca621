import { createHash } from 'node:crypto';

/** A device as client selection sees it. */
export interface Candidate {
  id: string;
  online: boolean;
  labels: Record<string, string>;
}

/** How many clients a round wants. */
export interface SelectionPolicy {
  /** A fraction of the eligible devices (rounded up), unless `count` is given. */
  fraction: number;
  count?: number | undefined;
  minClients: number;
  /** Every label here must match. */
  selector: Record<string, string>;
  /** Seed of the pick: the same seed and round pick the same devices from the same set. */
  seed: number;
  round: number;
}

/** Devices whose labels match every entry of the selector. */
export function matchesSelector(labels: Record<string, string>, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/**
 * Picks a round's clients among the online devices that match the selector: `count` (or
 * `ceil(fraction × eligible)`), at least `minClients`, at most all eligible, in a
 * seeded-hash order so the choice is reproducible. Returns `null` with the reason when fewer
 * than `minClients` are eligible (the round waits for more devices to come online).
 */
export function selectClients(
  candidates: readonly Candidate[],
  policy: SelectionPolicy,
): { selected: string[]; eligible: number } | { selected: null; eligible: number; reason: string } {
  const eligible = candidates.filter((c) => c.online && matchesSelector(c.labels, policy.selector));
  if (eligible.length < policy.minClients) {
    return {
      selected: null,
      eligible: eligible.length,
      reason: `${eligible.length} eligible online devices, the round needs at least ${policy.minClients}`,
    };
  }
  const wanted = policy.count ?? Math.ceil(policy.fraction * eligible.length);
  const n = Math.min(eligible.length, Math.max(wanted, policy.minClients));
  const rank = (id: string) =>
    createHash('sha256').update(`${policy.seed}:${policy.round}:${id}`).digest('hex');
  const ordered = eligible
    .map((c) => ({ id: c.id, key: rank(c.id) }))
    .sort((a, b) => (a.key < b.key ? -1 : 1));
  return {
    selected: ordered
      .slice(0, n)
      .map((c) => c.id)
      .sort(),
    eligible: eligible.length,
  };
}
