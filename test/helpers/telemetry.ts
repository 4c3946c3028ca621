/**
 * Telemetry events as agents send them (`telemetry.device`, `telemetry.drift`), valid against
 * their schemas, for tests of the hub's telemetry fold and drift.
 */
import {
  DEVICE_TELEMETRY_EVENT,
  type DeviceTelemetry,
  DRIFT_EVENT,
  type DriftBaseline,
  type UplinkBatch,
} from '../../shared/index.js';

const ledger = { quota: { count: 0, bytes: 0 }, ttl: { count: 0, bytes: 0 }, unconfirmed: 0 };

/** A `telemetry.device` body reported at `at` with outbox depth `depth` and RSS `rss`. */
export function deviceReport(at: number, depth = 0, rss = 1_000_000): DeviceTelemetry {
  return {
    at,
    uptimeS: at / 1000,
    profile: 'x86-64-cpu',
    memory: { rssBytes: rss, heapUsedBytes: Math.floor(rss / 2) },
    disk: null,
    engines: [{ model: 'clf', version: '1.0.0', precision: 'fp32', engine: 'onnx:cpu' }],
    cache: { hits: 1, misses: 1, evictions: 0, entries: 1, bytes: 10, maxBytes: 100, hitRate: 0.5 },
    outbox: { telemetry: { depth, bytes: depth * 10, ledger } },
    link: { connects: 1, deadLinks: 0, pingRttMs: 3 },
  };
}

/** A `telemetry.drift` body: one summary of `model@version` over one feature of two bins. */
export function driftBody(model: string, version: string, counts: [number, number], at = 1_700_000_000_000) {
  return {
    from: at - 1000,
    to: at,
    models: [{ model, version, rows: counts[0] + counts[1], features: [counts], classes: [] }],
  };
}

/** A baseline of one feature split evenly around 0 (what {@link driftBody} summaries are judged by). */
export function evenBaseline(model: string, version: string): DriftBaseline {
  return {
    model,
    version,
    source: 'summaries',
    features: [{ edges: [0], counts: [500, 500] }],
    classes: [],
    createdAt: 1_700_000_000_000,
  };
}

/** Telemetry events of these bodies (`device` or `drift` each) as one batch from `firstSeq`. */
export function telemetryBatch(
  epoch: string,
  firstSeq: number,
  bodies: Array<{ kind: 'device' | 'drift'; body: unknown }>,
  batchId = `${epoch}-${firstSeq}`,
): UplinkBatch {
  return {
    v: 1,
    epoch,
    lane: 'telemetry',
    batchId,
    events: bodies.map((b, i) => ({
      seq: firstSeq + i,
      type: b.kind === 'device' ? DEVICE_TELEMETRY_EVENT : DRIFT_EVENT,
      at: 1_700_000_000_000 + i,
      body: b.body,
    })),
  } as UplinkBatch;
}
