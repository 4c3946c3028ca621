import assert from 'node:assert/strict';
import test from 'node:test';
import {
  AckSchema,
  DesiredStateSchema,
  DeviceTelemetrySchema,
  decodeMessage,
  LATENCY_BUCKET_COUNT,
  ModelTelemetrySchema,
  PROTOCOL,
  PROTOCOL_MINOR,
  parseTolerant,
  peerVersion,
  ReportedStateSchema,
  readsPv,
  StatusSchema,
  UplinkBatchSchema,
  unservedReason,
} from '../../shared/index.js';

const epoch = 'k3J9xQ2mTz8A';
const lane = { quota: { count: 0, bytes: 0 }, ttl: { count: 0, bytes: 0 }, unconfirmed: 0 };
const state = {
  v: 1,
  at: 1,
  agentVersion: '0.1.0',
  epoch,
  startedAt: 1,
  appliedRev: 0,
  config: {},
  outbox: { control: { pending: 0, enqueued: 1, acked: 1 } },
};

test('a message without pv is read as the previous minor; pv names major.minor', () => {
  assert.deepEqual(peerVersion({ v: 1 }), { major: 1, minor: 0 });
  assert.deepEqual(peerVersion({ v: 1, pv: '1.7' }), { major: 1, minor: 7 });
  assert.equal(peerVersion({ nothing: true }), undefined);
  assert.equal(readsPv({ major: 1, minor: 0 }), false);
  assert.equal(readsPv({ major: 1, minor: 1 }), true);
  assert.equal(PROTOCOL, `1.${PROTOCOL_MINOR}`);
});

test('the previous, this and the next minor are served; others and another major are refused', () => {
  for (const minor of [PROTOCOL_MINOR - 1, PROTOCOL_MINOR, PROTOCOL_MINOR + 1]) {
    assert.equal(unservedReason({ major: 1, minor }), undefined, `1.${minor}`);
  }
  assert.match(unservedReason({ major: 1, minor: PROTOCOL_MINOR + 2 }) ?? '', /is not served/);
  assert.match(
    unservedReason({ major: 2, minor: 0 }) ?? '',
    /^protocol 2\.0 is not served: this side speaks 1\.1/,
  );
});

test('a newer-major message is refused with a reason before its schema is applied', () => {
  const decoded = decodeMessage(
    UplinkBatchSchema,
    JSON.stringify({ v: 2, pv: '2.0', epoch, lane: 'telemetry', frames: [] }),
  );
  assert.equal(decoded.ok, false);
  assert.equal(decoded.ok ? undefined : decoded.unserved, true);
  assert.match(decoded.ok ? '' : decoded.reason, /^protocol 2\.0 is not served/);
  const bare = decodeMessage(StatusSchema, JSON.stringify({ v: 3, state: 'online', conn: 'c', at: 1 }));
  assert.match(bare.ok ? '' : bare.reason, /^protocol 3\.0 is not served/);
});

test('a next-minor message keeps what this side reads and counts each unknown field', () => {
  const batch = {
    v: 1,
    pv: '1.2',
    epoch,
    lane: 'telemetry',
    batchId: 'b1',
    priority: 'high',
    events: [{ seq: 1, type: 'temp', at: 1, body: { c: 1 }, trace: 'x' }],
  };
  const decoded = decodeMessage(UplinkBatchSchema, JSON.stringify(batch));
  assert.equal(decoded.ok, true, decoded.ok ? '' : decoded.reason);
  if (!decoded.ok) return;
  assert.deepEqual(decoded.version, { major: 1, minor: 2 });
  assert.deepEqual(decoded.tolerated.sort(), ['field events.0.trace', 'field priority']);
  assert.equal('priority' in decoded.value, false);
  assert.deepEqual(decoded.value.events, [{ seq: 1, type: 'temp', at: 1, body: { c: 1 } }]);
});

test('an unknown lane in the reported ledger is counted, not a whole-state drop', () => {
  const decoded = decodeMessage(
    ReportedStateSchema,
    JSON.stringify({ ...state, pv: '1.2', ledger: { telemetry: lane, video: lane } }),
  );
  assert.equal(decoded.ok, true, decoded.ok ? '' : decoded.reason);
  if (!decoded.ok) return;
  assert.deepEqual(decoded.value.ledger, { telemetry: lane });
  assert.deepEqual(decoded.tolerated, ['lane video']);
});

test('an unknown engine in the reported inference is kept as a label and counted', () => {
  const inference = {
    profile: { name: 'x86-cpu', source: 'detected', reason: 'r' },
    models: [
      {
        name: 'digits',
        version: '1.0.0',
        precision: 'fp32',
        engine: 'onnx:qnn',
        rejected: [{ engine: 'tfjs:webnn', stage: 'load', reason: 'no' }],
      },
    ],
    cache: { hits: 0, misses: 0, evictions: 0, entries: 0, bytes: 0, maxBytes: 0 },
  };
  const decoded = decodeMessage(ReportedStateSchema, JSON.stringify({ ...state, inference }));
  assert.equal(decoded.ok, true, decoded.ok ? '' : decoded.reason);
  if (!decoded.ok) return;
  assert.equal(decoded.value.inference?.models[0]?.engine, 'onnx:qnn');
  assert.deepEqual(decoded.tolerated.sort(), ['engine onnx:qnn', 'engine tfjs:webnn']);
  const known = parseTolerant(ReportedStateSchema, { ...state, inference: { ...inference, models: [] } });
  assert.deepEqual(known.tolerated, []);
});

test('an unknown metric in a telemetry.model report is counted; the known metrics are kept', () => {
  const metrics = {
    model: 'digits',
    version: '1.0.0',
    role: 'active',
    requests: 4,
    errors: 1,
    latency: Array.from({ length: LATENCY_BUCKET_COUNT }, (_, i) => (i === 2 ? 4 : 0)),
    latencySumMs: 12,
    confidenceSum: 3,
    confidenceCount: 4,
  };
  const parsed = parseTolerant(ModelTelemetrySchema, {
    from: 1,
    to: 2,
    models: [{ ...metrics, p99Ms: 5 }],
  });
  assert.equal(parsed.success, true);
  assert.deepEqual(parsed.success ? parsed.data.models[0] : undefined, metrics);
  assert.deepEqual(parsed.tolerated, ['field models.0.p99Ms']);
});

test('device telemetry with a new lane and a new engine is kept and counted', () => {
  const telemetry = {
    at: 1,
    uptimeS: 1,
    profile: 'x86-cpu',
    memory: { rssBytes: 1, heapUsedBytes: 1 },
    disk: null,
    engines: [{ model: 'digits', version: '1.0.0', precision: 'fp32', engine: 'onnx:qnn' }],
    cache: { hits: 0, misses: 0, evictions: 0, entries: 0, bytes: 0, maxBytes: 0, hitRate: null },
    outbox: { telemetry: { depth: 0, bytes: 0, ledger: lane }, video: { depth: 1, bytes: 1, ledger: lane } },
    link: { connects: 1, deadLinks: 0, pingRttMs: null },
  };
  const parsed = parseTolerant(DeviceTelemetrySchema, telemetry);
  assert.equal(parsed.success, true);
  assert.deepEqual(Object.keys(parsed.success ? parsed.data.outbox : {}), ['telemetry']);
  assert.deepEqual(parsed.tolerated.sort(), ['engine onnx:qnn', 'lane video']);
});

test('a desired state or an ack from a newer hub is applied without the fields it adds', () => {
  const desired = decodeMessage(
    DesiredStateSchema,
    JSON.stringify({
      v: 1,
      pv: '1.2',
      rev: 4,
      at: 5,
      config: { logLevel: 'info', cpuQuota: 2 },
      gadgets: {},
    }),
  );
  assert.equal(desired.ok, true, desired.ok ? '' : desired.reason);
  assert.deepEqual(desired.ok ? desired.value : undefined, {
    v: 1,
    pv: '1.2',
    rev: 4,
    at: 5,
    config: { logLevel: 'info' },
  });
  assert.deepEqual(desired.ok ? desired.tolerated.sort() : [], ['field config.cpuQuota', 'field gadgets']);
  // What cannot be processed stays refused: an ack for a lane this agent has no outbox for.
  const ack = decodeMessage(
    AckSchema,
    JSON.stringify({ v: 1, pv: '1.2', epoch, lane: 'video', hwm: 1, stored: 1, duplicates: 0 }),
  );
  assert.match(ack.ok ? '' : ack.reason, /^lane: /);
});
