import {
  decodeMessage,
  deviceTopic,
  encodeMessage,
  PingSchema,
  PongSchema,
  PROTOCOL_VERSION,
} from '../../shared/index.js';
import type { HubBus } from '../bus/types.js';
import type { Rejections } from '../rejections.js';
import type { HubCounters } from '../stats.js';
import type { PeerVersions } from './peer-versions.js';

/** What answering pings needs. */
export interface PingDeps {
  bus: HubBus;
  rejections: Rejections;
  counters: HubCounters;
  maxPayloadBytes: number;
  /** Hub wall clock, ms. */
  now: () => number;
  peers: PeerVersions;
}

/**
 * Answers an application-level ping ("dead links") with a pong on the device's
 * `ack` topic at QoS 0. Deliberately outside the per-device queue and without touching the
 * store: it proves the hub process answers, and must not wait behind a backlog's ingest.
 * An invalid ping is counted (`ping.invalid`) and dropped; one of an unserved protocol
 * version is refused with its reason. Never throws.
 */
export async function answerPing(deps: PingDeps, deviceId: string, payload: Buffer): Promise<void> {
  const decoded = decodeMessage(PingSchema, payload, deps.maxPayloadBytes);
  const ping = await deps.peers.accept(deviceId, 'ping', decoded);
  if (ping === undefined) return;
  const pong = encodeMessage(PongSchema, {
    v: PROTOCOL_VERSION,
    ...deps.peers.stamp(deviceId),
    pong: ping.id,
    at: deps.now(),
  });
  await deps.bus.publish(deviceTopic(deviceId, 'ack'), pong, { qos: 0, retain: false });
  deps.counters.ping();
}
