import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import {
  deviceTopic,
  PingSchema,
  ReportedStateSchema,
  StatusSchema,
  UplinkBatchSchema,
} from '../../shared/index.js';
import {
  api,
  type HubWithDevice,
  makeBatch,
  sendBatch,
  startHubWithDevice,
  waitFor,
} from '../helpers/hub.js';

// An unknown key is not malformed: every inbound schema keeps what it reads and counts the
// rest, a newer peer's fields (test/hub/protocol-versions.test.ts). 10,000 malformed messages — structurally plausible mutations of valid ones
// (a required key dropped, a value of the wrong type, truncated JSON, bytes
// that are no JSON) over every inbound MQTT schema (up, state, status, ping) and the HTTP
// routes that take input. Afterwards the hub is alive, every MQTT message is counted as a
// rejection with its reason, every HTTP request answered 4xx with a code, and the stored data
// is unchanged (lastSeen excepted: any message, even a bad one, proves the device is alive).

const MQTT_RUNS = 8000;
const HTTP_RUNS = 2000;
type Json = Record<string, unknown>;

const now = 1_800_000_000_000;
const BASES: Record<'up' | 'state' | 'status' | 'ping', { value: Json; required: string[] }> = {
  up: {
    value: makeBatch('epochfuzz1', 100, 2, 'fz') as unknown as Json,
    required: ['v', 'epoch', 'lane', 'batchId', 'events'],
  },
  state: {
    value: {
      v: 1,
      at: now,
      agentVersion: '0.1.0',
      epoch: 'epochfuzz1',
      startedAt: now,
      appliedRev: 0,
      config: {},
      outbox: { results: { pending: 0, enqueued: 0, acked: 0 } },
    },
    required: ['v', 'at', 'agentVersion', 'epoch', 'startedAt', 'appliedRev', 'config', 'outbox'],
  },
  status: {
    value: { v: 1, state: 'online', conn: 'c-fuzz', at: now },
    required: ['v', 'state', 'conn', 'at'],
  },
  ping: { value: { v: 1, id: 'p1', at: now }, required: ['v', 'id', 'at'] },
};
const SCHEMAS = { up: UplinkBatchSchema, state: ReportedStateSchema, status: StatusSchema, ping: PingSchema };

/** A value of another JSON type than `v` (so a typed field can never accept it). */
function wrongType(v: unknown, pick: number): unknown {
  const candidates: unknown[] = [12_345, 'text', true, null, [1], { k: 1 }].filter(
    (c) => typeof c !== typeof v || Array.isArray(c) !== Array.isArray(v) || (c === null) !== (v === null),
  );
  return candidates[pick % candidates.length];
}

type Mutation =
  | { kind: 'drop'; key: number }
  | { kind: 'retype'; key: number; pick: number }
  | { kind: 'event-drop'; key: number }
  | { kind: 'event-retype'; key: number; pick: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'bytes'; bytes: Uint8Array };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), key: fc.nat() }),
  fc.record({ kind: fc.constant('retype' as const), key: fc.nat(), pick: fc.nat() }),
  fc.record({ kind: fc.constant('event-drop' as const), key: fc.nat() }),
  fc.record({ kind: fc.constant('event-retype' as const), key: fc.nat(), pick: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
);

/** Applies `m` to a copy of the base message of `channel`; the result never passes the schema. */
function mutate(channel: keyof typeof BASES, m: Mutation): Buffer {
  const base = BASES[channel];
  const msg = structuredClone(base.value);
  const key = (n: number) => base.required[n % base.required.length] as string;
  const event = (msg.events as Json[] | undefined)?.[0];
  switch (m.kind) {
    case 'drop':
      delete msg[key(m.key)];
      break;
    case 'retype':
      msg[key(m.key)] = wrongType(msg[key(m.key)], m.pick);
      break;
    case 'event-drop':
    case 'event-retype': {
      if (event === undefined) {
        delete msg[key(m.key)];
        break;
      }
      const field = (['seq', 'type', 'at'] as const)[m.key % 3] as string;
      if (m.kind === 'event-drop') delete event[field];
      else event[field] = wrongType(event[field], m.pick);
      break;
    }
    case 'truncate': {
      const text = JSON.stringify(msg);
      return Buffer.from(text.slice(0, m.at % (text.length - 1)));
    }
    case 'bytes':
      return Buffer.concat([Buffer.from([0xff]), Buffer.from(m.bytes)]);
  }
  return Buffer.from(JSON.stringify(msg));
}

let fixture: HubWithDevice;
before(async () => {
  fixture = await startHubWithDevice({
    hub: { limits: { http: { ratePerS: 1_000_000, burst: 1_000_000 } } },
    enroll: { name: 'fuzzed', labels: { site: 'a' } },
  });
  await sendBatch(fixture.device, fixture.creds.id, makeBatch('epochfuzz1', 1, 3, 'ok1'));
  await api(fixture.hub, 'PUT', `/v1/devices/${fixture.creds.id}/desired`, { config: { logLevel: 'warn' } });
});
after(() => fixture?.close());

async function snapshot() {
  const store = fixture.hub.store;
  const devices = (await store.listDevices()).map(({ lastSeen: _l, ...rest }) => rest);
  return {
    devices,
    events: await store.listEvents(fixture.creds.id, { limit: 10_000 }),
    count: await store.countEvents(),
    desired: await store.listDesired(),
    skips: await store.listSkips(fixture.creds.id),
  };
}

test('10,000 malformed messages: all rejected with a reason, the hub alive, no stored data changed', async () => {
  for (const [channel, base] of Object.entries(BASES)) {
    assert.ok(
      SCHEMAS[channel as keyof typeof BASES].safeParse(base.value).success,
      `the ${channel} base is valid`,
    );
  }
  const before = await snapshot();
  const rejectedBefore = fixture.hub.stats().rejected.total;
  const channels = Object.keys(BASES) as Array<keyof typeof BASES>;
  const samples = fc.sample(fc.tuple(fc.constantFrom(...channels), mutation), {
    numRuns: MQTT_RUNS,
    seed: 8,
  });
  let published = 0;
  for (const [channel, m] of samples) {
    const payload = mutate(channel, m);
    const schema = SCHEMAS[channel];
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    assert.equal(
      parsed !== undefined && schema.safeParse(parsed).success,
      false,
      `${channel} ${JSON.stringify(m)} is invalid`,
    );
    fixture.device.client.publish(deviceTopic(fixture.creds.id, channel), payload, { qos: 0 });
    published++;
  }
  await waitFor(
    () => fixture.hub.stats().rejected.total - rejectedBefore >= published,
    `${published} rejections`,
    60_000,
  );
  const stats = fixture.hub.stats();
  assert.equal(stats.rejected.total - rejectedBefore, published, 'each counted exactly once');
  for (const reason of Object.keys(stats.rejected.byReason))
    assert.match(reason, /^(up|state|status|ping)\.invalid$/);

  // HTTP: enrollment bodies and query strings with a wrong type, an unknown key, or no JSON.
  const http = fc.sample(
    fc.oneof(
      fc.record({
        route: fc.constant('enroll' as const),
        name: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null)),
      }),
      fc.record({
        route: fc.constant('unknown-key' as const),
        key: fc.string({ minLength: 1, maxLength: 8 }),
      }),
      fc.record({
        route: fc.constant('events' as const),
        limit: fc.oneof(
          fc.integer({ max: 0 }),
          fc.string({ maxLength: 8 }).map((t) => `x${t}`),
        ),
      }),
      fc.record({ route: fc.constant('config' as const), level: fc.string({ maxLength: 10 }) }),
      fc.record({
        route: fc.constant('not-json' as const),
        text: fc.string({ minLength: 1, maxLength: 40 }),
      }),
    ),
    { numRuns: HTTP_RUNS, seed: 9 },
  );
  const answers = new Map<string, number>();
  const headers = { authorization: `Bearer ${fixture.hub.adminToken}`, 'content-type': 'application/json' };
  for (const r of http) {
    let res: Response;
    if (r.route === 'enroll') {
      res = await fetch(`${fixture.hub.http.url}/v1/devices`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ name: r.name }),
      });
    } else if (r.route === 'unknown-key') {
      const body = { [`x_${r.key}`]: 1 };
      res = await fetch(`${fixture.hub.http.url}/v1/devices`, {
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      });
    } else if (r.route === 'events') {
      const q = new URLSearchParams({ limit: String(r.limit) });
      res = await fetch(`${fixture.hub.http.url}/v1/devices/${fixture.creds.id}/events?${q}`, { headers });
    } else if (r.route === 'config') {
      const body = { config: { logLevel: `x${r.level}` } };
      res = await fetch(`${fixture.hub.http.url}/v1/devices/${fixture.creds.id}/desired`, {
        method: 'PUT',
        headers,
        body: JSON.stringify(body),
      });
    } else {
      res = await fetch(`${fixture.hub.http.url}/v1/devices`, {
        method: 'POST',
        headers,
        body: `{${r.text}`,
      });
    }
    const body = (await res.json()) as { error?: { code: string; message: string } };
    assert.ok(res.status >= 400 && res.status < 500, `${JSON.stringify(r)} answered ${res.status}`);
    assert.ok(body.error?.code && body.error.message.length > 0, 'a code and a reason');
    answers.set(body.error.code, (answers.get(body.error.code) ?? 0) + 1);
  }
  assert.equal(
    [...answers.values()].reduce((a, b) => a + b, 0),
    HTTP_RUNS,
  );

  assert.equal((await fetch(`${fixture.hub.http.url}/healthz`)).status, 200, 'the hub is alive');
  const ack = await sendBatch(fixture.device, fixture.creds.id, makeBatch('epochfuzz1', 4, 1, 'ok2'));
  assert.equal(ack.stored, 1, 'and still ingests');
  const afterAll = await snapshot();
  afterAll.events = afterAll.events.filter((e) => e.seq !== 4);
  afterAll.count -= 1;
  assert.deepEqual(afterAll, before, 'nothing stored changed');
});
