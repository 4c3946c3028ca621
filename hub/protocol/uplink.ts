import type { Logger } from 'pino';
import {
  AckSchema,
  allDevicesFilter,
  DEVICE_TELEMETRY_EVENT,
  DEVICE_TO_HUB,
  DRIFT_EVENT,
  decodeMessage,
  deviceTopic,
  type EventEnvelope,
  encodeMessage,
  isUplinkChannel,
  MODEL_TELEMETRY_EVENT,
  PROTOCOL_VERSION,
  parseDeviceTopic,
  ReportedStateSchema,
  StatusSchema,
  UplinkBatchSchema,
} from '../../shared/index.js';
import type { HubBus, MessageOrigin, SessionEnd } from '../bus/types.js';
import type { Rejections } from '../rejections.js';
import type { HubCounters } from '../stats.js';
import { canAuthenticate } from '../store/device-lifecycle-types.js';
import type { HubStore } from '../store/types.js';
import { PeerVersions } from './peer-versions.js';
import { answerPing } from './ping.js';
import { KeyedSerialQueue, UPLINK_CONCURRENCY } from './serial.js';

/** Telemetry kinds this hub folds (model metrics, device health, drift). */
const TELEMETRY_KINDS: ReadonlySet<string> = new Set([
  MODEL_TELEMETRY_EVENT,
  DEVICE_TELEMETRY_EVENT,
  DRIFT_EVENT,
]);

/** What the uplink handling needs. */
export interface UplinkDeps {
  bus: HubBus;
  store: HubStore;
  rejections: Rejections;
  counters: HubCounters;
  logger: Logger;
  /** Largest accepted payload, bytes; larger ones are counted as `payload.too-large`. */
  maxPayloadBytes: number;
  /** Called after a batch stored events in the `results` lane (cloud re-scoring). */
  onResultsStored?: () => void;
  /** Called after a batch stored events in the `telemetry` lane (the telemetry fold). */
  onTelemetryStored?: () => void;
  /**
   * Called with the `learning`-lane events a batch holds at or below the device's mark —
   * newly stored or resent duplicates, which the filing ignores when already filed (federated
   * updates and evaluations) — after the ack, in the device's order; awaited.
   */
  onLearningStored?: (deviceId: string, events: EventEnvelope[]) => Promise<void>;
  /** Hub wall clock, ms (injectable for tests); default `Date.now`. */
  now?: () => number;
  /**
   * Cuts a device's session (an external broker, which cannot refuse a device before it
   * rereads its auth files): called when a device that is disabled or not enrolled announces
   * itself online, which it can do only in the window before the broker's reload.
   */
  evict?: (deviceId: string) => Promise<void>;
}

/** The running uplink handling. */
export interface UplinkHandler {
  /** Ignores messages from now on and waits for those already received to be handled. */
  close(): Promise<void>;
}

/**
 * Subscribes (in-process) to `up`, `state` and `status` of every device and handles them,
 * one device at a time in broker order (docs/architecture.md "Wire protocol"):
 * - every payload is decoded with its schema, tolerantly: what a newer agent adds is kept
 *   and counted (`tolerated` in the stats); an invalid one is counted, logged once per
 *   (device, reason) and dropped; one of a protocol version this hub does not serve is
 *   refused with its reason on the device's `ack` topic; nothing here throws into the broker;
 * - answers carry `pv` only to devices whose messages did (docs/compatibility.md);
 * - `up` is ingested exactly once, then acked on `…/ack` (QoS 1) only after the commit;
 * - `ping` is answered at once with a pong on `…/ack`, outside the queue;
 * - `state` becomes the reported state; `status` the online flag, where an `offline` for
 *   another connection than the current one (a stale will) is ignored;
 * - the end of a connection that announced itself `online` marks it offline the same way,
 *   which covers a clean DISCONNECT without an `offline` message (no will is sent then).
 */
export async function startUplink(deps: UplinkDeps): Promise<UplinkHandler> {
  const { bus, store, rejections, counters, logger } = deps;
  const now = deps.now ?? Date.now;
  const queue = new KeyedSerialQueue(
    (err, deviceId) => logger.error({ err, deviceId }, 'handling a device message failed; message dropped'),
    UPLINK_CONCURRENCY,
  );
  /** Connection id announced `online` by each live MQTT session. */
  const sessionConn = new Map<string, { deviceId: string; conn: string }>();
  let closed = false;
  const peers = new PeerVersions({ bus, rejections, counters, logger, now });

  async function handleUp(deviceId: string, payload: Buffer, at: number) {
    const batch = await peers.accept(
      deviceId,
      'up',
      decodeMessage(UplinkBatchSchema, payload, deps.maxPayloadBytes),
    );
    if (batch === undefined) return;
    if (batch.lane === 'telemetry') {
      // Stored like any event; a `telemetry.*` kind this hub does not fold is counted as tolerated.
      for (const e of batch.events) {
        if (e.type.startsWith('telemetry.') && !TELEMETRY_KINDS.has(e.type))
          counters.tolerate(`telemetry ${e.type}`);
      }
    }
    const result = await store.ingestBatch(deviceId, batch, at);
    counters.ingest(result.stored, result.duplicates, result.skipped);
    if (batch.lane === 'results' && result.stored > 0) deps.onResultsStored?.();
    if (batch.lane === 'telemetry' && result.stored > 0) deps.onTelemetryStored?.();
    if (result.skipped) {
      logger.info(
        { deviceId, epoch: batch.epoch, lane: batch.lane, skipped: result.skipped, hwm: result.hwm },
        'skipped seqs the device dropped (loss ledger)',
      );
    }
    const ack = encodeMessage(AckSchema, {
      v: PROTOCOL_VERSION,
      ...peers.stamp(deviceId),
      epoch: batch.epoch,
      lane: batch.lane,
      hwm: result.hwm,
      batchId: batch.batchId,
      stored: result.stored,
      duplicates: result.duplicates,
      ...(result.dropped ? { skipped: result.skipped ?? 0, dropped: result.dropped } : {}),
    });
    await bus.publish(deviceTopic(deviceId, 'ack'), ack, { qos: 1, retain: false });
    if (batch.lane === 'learning' && result.stored + result.duplicates > 0 && deps.onLearningStored) {
      // Duplicates are filed again (filing is idempotent): a resend means the
      // replica that stored them may have died before filing them, and nothing else would.
      const held = batch.events.filter((e) => e.seq <= result.hwm);
      await deps.onLearningStored(deviceId, held);
    }
  }

  async function handleState(deviceId: string, payload: Buffer, at: number) {
    const state = await peers.accept(
      deviceId,
      'state',
      decodeMessage(ReportedStateSchema, payload, deps.maxPayloadBytes),
    );
    if (state !== undefined) await store.setReported(deviceId, state, at);
  }

  async function admitted(deviceId: string): Promise<boolean> {
    const device = await store.getDevice(deviceId);
    return device !== undefined && canAuthenticate(device.secretHash);
  }

  async function handleStatus(deviceId: string, payload: Buffer, at: number, origin: MessageOrigin) {
    const status = await peers.accept(
      deviceId,
      'status',
      decodeMessage(StatusSchema, payload, deps.maxPayloadBytes),
    );
    if (status === undefined) return;
    const { state, conn } = status;
    if (state === 'online' && deps.evict && !(await admitted(deviceId))) {
      logger.warn({ deviceId }, 'a disabled or removed device is connected to the broker; cutting it again');
      await deps
        .evict(deviceId)
        .catch((err: unknown) => logger.error({ err, deviceId }, 'could not cut the device'));
      return;
    }
    if (state === 'online' && origin.session !== undefined) {
      sessionConn.set(origin.session, { deviceId, conn });
    }
    const outcome = await store.setStatus(deviceId, { online: state === 'online', conn, at });
    if (outcome === 'stale') {
      logger.info({ deviceId, conn }, 'ignored an offline status of an older connection (stale will)');
    }
  }

  async function handle(topic: string, payload: Buffer, origin: MessageOrigin) {
    if (closed) return;
    const parsed = parseDeviceTopic(topic);
    if (parsed === undefined || !isUplinkChannel(parsed.channel)) {
      return rejections.reject(topic, 'topic.invalid', `not an uplink topic: ${topic}`);
    }
    const { deviceId, channel } = parsed;
    if (channel === 'ping') {
      return answerPing(
        { bus, rejections, counters, now, maxPayloadBytes: deps.maxPayloadBytes, peers },
        deviceId,
        payload,
      );
    }
    await queue.run(deviceId, async () => {
      // Waiting its turn when the hub stopped: left to the device, which resends an unacked
      // batch, and to the broker, which keeps the retained state and status for the next hub.
      // Stopping then waits only for the messages in hand, not for a backlog of thousands.
      if (closed) return;
      const at = now();
      await store.touch(deviceId, at);
      if (payload.byteLength > deps.maxPayloadBytes) {
        return rejections.reject(
          deviceId,
          'payload.too-large',
          `${channel} payload of ${payload.byteLength} bytes exceeds the limit of ${deps.maxPayloadBytes}`,
        );
      }
      if (channel === 'up') await handleUp(deviceId, payload, at);
      else if (channel === 'state') await handleState(deviceId, payload, at);
      else await handleStatus(deviceId, payload, at, origin);
    });
  }

  function sessionEnded(end: SessionEnd) {
    if (closed) return;
    void queue.run(end.clientId, async () => {
      const at = now();
      await store.touch(end.clientId, at);
      const announced = sessionConn.get(end.session);
      sessionConn.delete(end.session);
      if (announced === undefined) return;
      await store.setStatus(announced.deviceId, { online: false, conn: announced.conn, at });
    });
  }

  bus.onSessionEnd(sessionEnded);
  for (const channel of DEVICE_TO_HUB) await bus.subscribe(allDevicesFilter(channel), handle);
  return {
    close: () => {
      closed = true;
      return queue.drain();
    },
  };
}
