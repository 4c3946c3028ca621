import type { Lane } from '../../../shared/index.js';

/** Limits of one lane (config `outbox.lanes.<lane>`). */
export interface LaneLimits {
  /** Most events pending in the lane. */
  maxRows: number;
  /** Most envelope bytes pending in the lane. */
  maxBytes: number;
}

/** A lane that cannot take one more event as it stands. */
export interface QuotaOverflow {
  lane: Lane;
  limits: LaneLimits;
  /** Events and bytes pending now. */
  rows: number;
  bytes: number;
  /** Envelope size of the event being enqueued, bytes. */
  incomingBytes: number;
}

/** What the store does about an overflow: make room by dropping the lane's oldest events. */
export interface QuotaDecision {
  action: 'drop-oldest';
}

/**
 * A quota policy: decides what happens when a lane is full. Pure; either returns
 * a decision the store carries out in the enqueue's transaction, or throws an OutpostError
 * that refuses the event (nothing is stored, no seq is used).
 */
export type QuotaPolicyFn = (overflow: QuotaOverflow) => QuotaDecision;

/** The limit an overflow hits first, in words, e.g. `maxRows 1000 (1000 pending)`. */
export function describeOverflow(o: QuotaOverflow): { limit: 'maxRows' | 'maxBytes'; text: string } {
  if (o.rows + 1 > o.limits.maxRows) {
    return { limit: 'maxRows', text: `maxRows ${o.limits.maxRows} (${o.rows} events pending)` };
  }
  return {
    limit: 'maxBytes',
    text: `maxBytes ${o.limits.maxBytes} (${o.bytes} bytes pending, ${o.incomingBytes} more needed)`,
  };
}
