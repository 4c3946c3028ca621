import type { Logger } from 'pino';
import {
  allDevicesFilter,
  DEFAULT_MAX_PAYLOAD_BYTES,
  decodeMessage,
  type EventEnvelope,
  parseDeviceTopic,
  UplinkBatchSchema,
} from '../../shared/index.js';
import type { HubBus } from '../bus/types.js';

/** Event types this tap hands out; a batch mentioning none of them is not decoded. */
const MARKERS = [Buffer.from('"telemetry.device"'), Buffer.from('"telemetry.drift"')];

/** One telemetry event, new to this hub process. */
export type TelemetryHandler = (deviceId: string, event: EventEnvelope, receivedAt: number) => void;

/** Options of {@link startTelemetryTap}. */
export interface TelemetryTapOptions {
  bus: HubBus;
  /** Called for each `telemetry.device` / `telemetry.drift` event, once per (device, epoch, seq). */
  onEvent: TelemetryHandler;
  now: () => number;
  log: Logger;
  maxPayloadBytes?: number;
}

/**
 * Reads `telemetry.device` and `telemetry.drift` events off the devices' `up` batches on
 * the hub bus, beside the ingest path (hub/protocol/uplink.ts), which
 * stores them exactly once. The tap keeps, per (device, epoch), the highest telemetry seq
 * it handed out and skips anything at or below it, so a batch resent after a lost ack is
 * not counted twice. Invalid batches are left to the ingest path, which counts and logs
 * them. What it derives is in memory: after a hub restart it fills again as devices report
 * (every `telemetry.intervalMs`); behind an external broker with shared subscriptions each
 * replica sees its share of devices.
 */
export async function startTelemetryTap(options: TelemetryTapOptions): Promise<{ close(): void }> {
  const seen = new Map<string, number>();
  let closed = false;
  await options.bus.subscribe(allDevicesFilter('up'), (topic, payload) => {
    if (closed || !MARKERS.some((m) => payload.includes(m))) return;
    const parsed = parseDeviceTopic(topic);
    if (parsed === undefined) return;
    const decoded = decodeMessage(
      UplinkBatchSchema,
      payload,
      options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    );
    if (!decoded.ok || decoded.value.lane !== 'telemetry') return;
    const batch = decoded.value;
    const key = `${parsed.deviceId}\u0000${batch.epoch}`;
    const hwm = seen.get(key) ?? 0;
    const at = options.now();
    for (const event of batch.events) {
      if (event.seq <= hwm) continue;
      try {
        options.onEvent(parsed.deviceId, event, at);
      } catch (err) {
        options.log.warn({ err, deviceId: parsed.deviceId, type: event.type }, 'telemetry event not handled');
      }
    }
    const last = batch.events.at(-1)?.seq ?? 0;
    if (last > hwm) seen.set(key, last);
  });
  return {
    close() {
      closed = true;
    },
  };
}
