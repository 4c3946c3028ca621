import { Readable } from 'node:stream';
import { topicMatches } from '../bus/topic-match.js';

/** The retained-message part of aedes' persistence interface (aedes 1.x calls only these). */
export interface RetainedPersistence {
  storeRetained(packet: RetainedPacket): Promise<void>;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

/** What aedes hands to `storeRetained`: a packet with a topic and a payload (empty = delete). */
export interface RetainedPacket {
  topic: string;
  payload: Buffer | string;
  [key: string]: unknown;
}

const isWildcard = (pattern: string) => pattern.includes('+') || pattern.includes('#');

function* matching(retained: Map<string, RetainedPacket>, pattern: string): Generator<RetainedPacket> {
  if (!isWildcard(pattern)) {
    const packet = retained.get(pattern);
    if (packet !== undefined) yield packet;
    return;
  }
  for (const [topic, packet] of retained) if (topicMatches(pattern, topic)) yield packet;
}

/**
 * Replaces the retained-message store of aedes' in-memory persistence (aedes-persistence 11)
 * with one whose lookups by an exact topic are a single `Map.get`.
 *
 * Why: aedes-persistence's `createRetainedStreamCombi` builds a matcher per
 * subscribed pattern and tests it against **every** retained message. Every device keeps a
 * retained `status` and the hub a retained `desired` per device, so each SUBSCRIBE of N
 * devices scanned 2N topics three times: the connect storm was O(N²). Devices subscribe to
 * exact topics only, so those become O(1); wildcard filters (rare: operators, tests) still
 * scan, with the MQTT 3.1.1 §4.7 matcher the bus uses (`$` topics never match a leading
 * wildcard, as the specification demands).
 *
 * Semantics kept: an empty payload deletes, a new packet replaces the old one for the topic
 * (stored as a shallow copy, like aedes-persistence), one stream entry per matching
 * (pattern, topic) pair in pattern order. Must be applied before any retained message is
 * stored, i.e. right after `Aedes.createBroker`.
 */
export function indexRetainedMessages(persistence: RetainedPersistence): void {
  const retained = new Map<string, RetainedPacket>();
  persistence.storeRetained = async (packet) => {
    if (packet.payload.length === 0) retained.delete(packet.topic);
    else retained.set(packet.topic, { ...packet });
  };
  persistence.createRetainedStream = (pattern) => Readable.from(matching(retained, pattern));
  persistence.createRetainedStreamCombi = (patterns) =>
    Readable.from(
      (function* () {
        for (const pattern of patterns) yield* matching(retained, pattern);
      })(),
    );
}
