import type { DroppedRange, EventEnvelope, Lane } from '../../shared/index.js';
import type { QuotaPolicy } from '../outbox/policies/index.js';
import type { ResolveOutcome } from './loss-ledger.js';

/**
 * Counters of one lane: events waiting, ever enqueued, acknowledged by the hub, lost (the
 * loss ledger's count), dropped but not yet confirmed lost, and the bytes waiting.
 * `enqueued = pending + acked + dropped + unconfirmed`.
 */
export interface LaneCounters {
  pending: number;
  enqueued: number;
  acked: number;
  dropped: number;
  unconfirmed: number;
  pendingBytes: number;
}

/** Quota and TTL of one lane (config `outbox.lanes.<lane>`). */
export interface LaneQuota {
  /** Most events pending. */
  maxRows: number;
  /** Most envelope bytes pending. */
  maxBytes: number;
  /** What a full lane does. */
  policy: QuotaPolicy;
  /** Time to live of a pending event in agent-clock seconds; 0 = forever. */
  ttlS: number;
}

/** No quota, no TTL: what a store opened without quotas applies. */
export const UNLIMITED_LANE: LaneQuota = {
  maxRows: Number.MAX_SAFE_INTEGER,
  maxBytes: Number.MAX_SAFE_INTEGER,
  policy: 'back-pressure',
  ttlS: 0,
};

/** A batch of the oldest consecutive events of one lane. */
export interface OutboxBatch {
  lane: Lane;
  events: EventEnvelope[];
  /** Sum of the events' envelope sizes, bytes. */
  bytes: number;
}

/** What the drain needs to know of a lane. */
export interface LaneState {
  /** Highest seq ever assigned (0 before any). */
  lastSeq: number;
  pending: number;
  /** The drops the hub has not answered yet, if any. */
  dropped: DroppedRange | undefined;
}

/** What applying an ack did. */
export interface AckOutcome {
  /** Pending events deleted because the hub stored them. */
  deleted: number;
  /** The hub's answer about drops, applied. */
  resolved?: ResolveOutcome;
}

/** UTF-8 size of the JSON envelope `{"seq":…,"type":…,"at":…,"body":…}` as it travels. */
export function envelopeBytes(seq: number, type: string, at: number, bodyJson: string): number {
  return (
    Buffer.byteLength(`{"seq":${seq},"type":${JSON.stringify(type)},"at":${at},"body":`) +
    Buffer.byteLength(bodyJson) +
    1
  );
}
