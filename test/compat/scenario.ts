/**
 * The compatibility scenario, run against any hub and any agent release through their
 * public surfaces only (the hub's admin HTTP API, the agent's local API): events arrive
 * exactly once, desired state is applied, a model is delivered and activated, telemetry is
 * folded, a federated round closes.
 */
import assert from 'node:assert/strict';
import { layersModelFiles } from '../../hub/federated/closed-loop.js';
import {
  DIGIT_PIXELS,
  encodeTensors,
  loadDigits,
  packTfjsBundle,
  TENSOR_MEDIA_TYPE,
} from '../../inference/index.js';
import { initialModel, sliceDigits, taskBody } from '../fl-system/fleet.js';
import { TEST_LINK, waitFor } from '../helpers/agent.js';
import type { AgentProcess, HubProcess } from './processes.js';

/** Safety net of each wait (conditions are asserted, never timings). */
const WAIT_MS = 60_000;
const EVENTS = 20;

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
type Json = any;

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<Json> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  let payload: string | Uint8Array | undefined;
  if (body instanceof Uint8Array) {
    headers['content-type'] = 'application/octet-stream';
    payload = body;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(`${base}${path}`, { method, headers, body: payload });
  const text = await res.text();
  const parsed = text === '' ? undefined : JSON.parse(text);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
  return parsed;
}

/** A hub's admin API. */
export const hubApi = (hub: HubProcess) => (method: string, path: string, body?: unknown) =>
  call(hub.http, method, path, body, hub.token);

/** Enrolls a device and returns the agent config both releases read. */
export async function agentConfigFor(hub: HubProcess, dataDir: string): Promise<Record<string, unknown>> {
  const api = hubApi(hub);
  const device = await api('POST', '/v1/devices', { name: 'compat' });
  const keys = await api('GET', '/v1/keys');
  return {
    deviceId: device.id,
    deviceSecret: device.secret,
    dataDir,
    logLevel: 'warn',
    hub: { mqttUrl: hub.mqtt },
    api: { port: 0 },
    link: TEST_LINK,
    outbox: { ackTimeoutMs: 1000 },
    inference: { profile: 'x86-64-cpu', threads: 1 },
    delivery: {
      trustedKeys: keys.keys.map((k: { publicKeyPem: string }) => k.publicKeyPem),
      hubHttpUrl: hub.http,
      retryMinMs: 50,
      retryMaxMs: 500,
    },
    metrics: { flushIntervalMs: 200 },
  };
}

/** Input tensor names of the first signature found in a model listing. */
function inputNames(value: Json): string[] {
  if (value && typeof value === 'object') {
    if (Array.isArray(value.inputs) && value.inputs.every((i: Json) => typeof i?.name === 'string')) {
      return value.inputs.map((i: { name: string }) => i.name);
    }
    for (const v of Object.values(value)) {
      const found = inputNames(v);
      if (found.length > 0) return found;
    }
  }
  return [];
}

/** Runs every check of the scenario for the device `deviceId` served by `agent`. */
export async function runScenario(hub: HubProcess, agent: AgentProcess, deviceId: string): Promise<void> {
  const api = hubApi(hub);
  const device = async () => (await api('GET', `/v1/devices/${deviceId}`)).reported ?? {};
  const local = (method: string, path: string, body?: unknown) => call(agent.api, method, path, body);

  // Events arrive exactly once.
  for (let n = 0; n < EVENTS; n++) {
    await local('POST', '/v1/events', { type: 'compat.event', lane: 'results', body: { n } });
  }
  const events = await waitFor(
    async () => {
      const page = await api('GET', `/v1/devices/${deviceId}/events?lane=results&limit=1000`);
      const mine = page.events.filter((e: Json) => e.type === 'compat.event');
      return mine.length >= EVENTS && mine;
    },
    'the events at the hub',
    WAIT_MS,
  );
  assert.deepEqual(
    events.map((e: Json) => e.body.n).sort((a: number, b: number) => a - b),
    Array.from({ length: EVENTS }, (_, n) => n),
    'each event stored exactly once',
  );

  // Desired state is applied.
  const desired = await api('PUT', `/v1/devices/${deviceId}/desired`, {
    config: { logLevel: 'debug', labels: { site: 'compat' } },
  });
  const applied = await waitFor(
    async () => {
      const r = await device();
      return r.appliedRev >= desired.rev && r.config?.labels?.site === 'compat' && r;
    },
    'the desired state applied',
    WAIT_MS,
  );
  assert.equal(applied.desired?.status, 'applied');

  // A model is delivered and activated.
  const model = initialModel();
  const files = layersModelFiles(model.modelTopology, model.weights);
  const bundle = packTfjsBundle({
    format: 'tfjs-layers',
    modelJson: files.modelJson,
    modelJsonBytes: files.modelJsonBytes,
    shards: new Map([['weights.bin', files.shard]]),
  });
  await api('POST', '/v1/models/digits/versions/1.0.0', bundle);
  await api('PUT', `/v1/devices/${deviceId}/models/digits`, { version: '1.0.0' });
  await waitFor(
    async () => (await device()).models?.find((m: Json) => m.name === 'digits')?.active?.version === '1.0.0',
    'digits 1.0.0 active on the device',
    WAIT_MS,
  );

  // Telemetry is folded: inferences on the device become the hub's per-model metrics.
  const listing = await local('GET', '/v1/models/digits');
  const [input] = inputNames(listing);
  assert.ok(input, `an input name in ${JSON.stringify(listing).slice(0, 500)}`);
  const digits = loadDigits(1, 0);
  const pixels = Array.from(digits.pixels.subarray(0, DIGIT_PIXELS));
  const inferences = 3;
  for (let i = 0; i < inferences; i++) {
    await local('POST', '/v1/models/digits/infer', {
      inputs: { [input as string]: { dtype: 'float32', dims: [1, DIGIT_PIXELS], data: pixels } },
    });
  }
  const folded = await waitFor(
    async () => {
      const { rows } = await api('GET', `/v1/model-metrics?model=digits&device=${deviceId}`);
      const requests = rows.reduce((sum: number, r: Json) => sum + (r.counters?.requests ?? 0), 0);
      const errors = rows.reduce((sum: number, r: Json) => sum + (r.counters?.errors ?? 0), 0);
      return requests >= inferences && { rows, requests, errors };
    },
    'the model metrics folded at the hub',
    WAIT_MS,
  );
  assert.deepEqual([folded.requests, folded.errors], [inferences, 0], JSON.stringify(folded.rows));

  // A federated round closes.
  const train = loadDigits(10, 0);
  const holdout = loadDigits(2, 600);
  for (const [set, split] of [
    [sliceDigits(train, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 'train'],
    [sliceDigits(holdout, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 'holdout'],
  ] as const) {
    const body = encodeTensors(
      { features: { dtype: 'float32', dims: [set.labels.length, DIGIT_PIXELS], data: set.pixels } },
      { labels: set.labels, split },
    );
    const res = await fetch(`${agent.api}/v1/samples`, {
      method: 'POST',
      headers: { 'content-type': TENSOR_MEDIA_TYPE },
      body,
    });
    assert.equal(res.status, 201, await res.text());
  }
  await api('POST', '/v1/federated/tasks', taskBody(model, { id: 'compat', rounds: 1, minClients: 1 }));
  const task = await waitFor(
    async () => {
      const t = await api('GET', '/v1/federated/tasks/compat');
      return t.status !== 'running' && t;
    },
    'the federated task to finish',
    WAIT_MS,
  );
  assert.equal(task.status, 'done', JSON.stringify(task));
  const { rounds } = await api('GET', '/v1/federated/tasks/compat/rounds');
  assert.equal(rounds[0]?.status, 'closed');
  assert.equal(rounds[0]?.metrics.accepted, 1, JSON.stringify(rounds[0]?.metrics));
}
