import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AckSchema,
  CommandSchema,
  DesiredStateSchema,
  decodeMessage,
  encodeMessage,
  OutpostError,
  ReportedStateSchema,
  StatusSchema,
  UplinkBatchSchema,
} from '../../shared/index.js';

const epoch = 'k3J9xQ2mTz8A';
const batch = {
  v: 1,
  epoch,
  lane: 'telemetry',
  batchId: 'b1',
  events: [
    { seq: 7, type: 'temp', at: 1_700_000_000_000, body: { c: 21.5 } },
    { seq: 8, type: 'temp', at: 1_700_000_000_100, body: { c: 21.7 } },
  ],
} as const;

test('each message schema round-trips through encode and decode', () => {
  const samples: Array<[{ safeParse: (v: unknown) => { success: boolean } }, unknown]> = [
    [UplinkBatchSchema, batch],
    [AckSchema, { v: 1, epoch, lane: 'telemetry', hwm: 8, batchId: 'b1', stored: 2, duplicates: 0 }],
    [StatusSchema, { v: 1, state: 'offline', conn: 'c1', at: 1 }],
    [DesiredStateSchema, { v: 1, rev: 3, at: 5, config: { logLevel: 'debug', reportIntervalS: 30 } }],
    [CommandSchema, { v: 1, id: 'c-1', name: 'ping', args: {}, at: 9 }],
    [
      ReportedStateSchema,
      {
        v: 1,
        at: 1,
        agentVersion: '0.1.0',
        epoch,
        startedAt: 1,
        appliedRev: 0,
        config: {},
        outbox: { control: { pending: 0, enqueued: 1, acked: 1 } },
        futureField: { kept: true },
      },
    ],
  ];
  for (const [schema, value] of samples) {
    const encoded = encodeMessage(schema as never, value as never);
    const decoded = decodeMessage(schema as never, encoded);
    // No `pv`: read as the previous minor. The reported state keeps the field it does not know, counted.
    const tolerated = 'futureField' in (value as object) ? ['field futureField'] : [];
    assert.deepEqual(decoded, { ok: true, value, tolerated }, JSON.stringify(value));
  }
});

test('an uplink batch must be consecutive, non-empty and of a known lane', () => {
  const gap = { ...batch, events: [batch.events[0], { ...batch.events[1], seq: 10 }] };
  const r1 = decodeMessage(UplinkBatchSchema, JSON.stringify(gap));
  assert.equal(r1.ok, false);
  assert.match(r1.ok ? '' : r1.reason, /events\.1\.seq: events must be consecutive: seq 10 follows 7/);
  const r2 = decodeMessage(UplinkBatchSchema, JSON.stringify({ ...batch, events: [] }));
  assert.match(r2.ok ? '' : r2.reason, /^events: /);
  const r3 = decodeMessage(UplinkBatchSchema, JSON.stringify({ ...batch, lane: 'video' }));
  assert.match(r3.ok ? '' : r3.reason, /^lane: /);
});

test('decodeMessage names what is wrong and never throws', () => {
  const cases: Array<[string | Buffer, RegExp]> = [
    ['{not json', /^payload is not JSON/],
    [Buffer.alloc(300 * 1024, 32), /exceeds the limit of 262144/],
    [JSON.stringify({ v: 2, state: 'online', conn: 'c', at: 1 }), /^protocol 2\.0 is not served/],
    [JSON.stringify({ v: 1, pv: '1', state: 'online', conn: 'c', at: 1 }), /^pv: pv must be MAJOR\.MINOR/],
    [JSON.stringify({ v: 1, state: 'sleeping', conn: 'c', at: 1 }), /^state: /],
    [JSON.stringify(null), /^\(root\): /],
  ];
  for (const [payload, reason] of cases) {
    const result = decodeMessage(StatusSchema, payload);
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.reason, reason);
  }
});

test('unknown command names are refused, not ignored', () => {
  const result = decodeMessage(CommandSchema, JSON.stringify({ v: 1, id: 'x', name: 'format-disk', at: 1 }));
  assert.equal(result.ok, false);
  assert.match(result.ok ? '' : result.reason, /^name: /);
});

test('encodeMessage refuses to send an invalid message', () => {
  assert.throws(
    () => encodeMessage(AckSchema, { v: 1, epoch, lane: 'telemetry', hwm: -1, stored: 0, duplicates: 0 }),
    (err: unknown) =>
      err instanceof OutpostError && err.code === 'PROTO_INVALID_PAYLOAD' && /hwm/.test(err.message),
  );
});
