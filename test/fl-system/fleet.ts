/**
 * Test helpers of the federated system tests: a real hub, real agents holding MNIST digit
 * slices posted through `POST /v1/samples`, and a task body for the admin API.
 */
import assert from 'node:assert/strict';
import { type Agent, type AgentConfigInput, createAgent } from '../../agent/index.js';
import { buildMnistMlp, encodeUpdate, type LayersModel } from '../../federated/index.js';
import type { Hub, HubConfigInput } from '../../hub/index.js';
import {
  DIGIT_PIXELS,
  type DigitSet,
  encodeTensors,
  loadDigits,
  TENSOR_MEDIA_TYPE,
} from '../../inference/index.js';
import { agentTestConfig, tempDir, testLogger, waitFor } from '../helpers/agent.js';
import { api, type Credentials, enroll, startHub } from '../helpers/hub.js';

/** The digits of `set` whose label is in `labels`. */
export function sliceDigits(
  set: DigitSet,
  labels: readonly number[],
): { pixels: Float32Array; labels: number[] } {
  const keep: number[] = [];
  for (let i = 0; i < set.labels.length; i++) if (labels.includes(set.labels[i] as number)) keep.push(i);
  const pixels = new Float32Array(keep.length * DIGIT_PIXELS);
  keep.forEach((i, k) => {
    pixels.set(set.pixels.subarray(i * DIGIT_PIXELS, (i + 1) * DIGIT_PIXELS), k * DIGIT_PIXELS);
  });
  return { pixels, labels: keep.map((i) => set.labels[i] as number) };
}

/** Posts digits to an agent's local API in the binary tensor form. */
export async function postDigits(
  agent: Agent,
  digits: { pixels: Float32Array; labels: number[] },
  split: 'train' | 'holdout',
): Promise<void> {
  const body = encodeTensors(
    { features: { dtype: 'float32', dims: [digits.labels.length, DIGIT_PIXELS], data: digits.pixels } },
    { labels: digits.labels, split },
  );
  const res = await fetch(`${agent.api.url}/v1/samples`, {
    method: 'POST',
    headers: { 'content-type': TENSOR_MEDIA_TYPE },
    body,
  });
  if (res.status !== 201) throw new Error(`POST /v1/samples: ${res.status} ${await res.text()}`);
}

/** A device of the fleet: its credentials, data dir and the running agent (or none). */
export interface FleetDevice {
  creds: Credentials;
  dataDir: string;
  agent: Agent | undefined;
}

/** Starts (or restarts) an agent for `device` against `mqttUrl`. */
export async function startAgent(
  device: FleetDevice,
  mqttUrl: string,
  extra: Partial<AgentConfigInput> = {},
): Promise<Agent> {
  device.agent = await createAgent(
    agentTestConfig({
      deviceId: device.creds.id,
      deviceSecret: device.creds.secret,
      dataDir: device.dataDir,
      hub: { mqttUrl },
      ...extra,
    }),
    { logger: testLogger() },
  );
  return device.agent;
}

/**
 * Enrolls `n` devices and starts their agents; device `i` holds the training digits of
 * `slices[i]` (non-IID) and a few holdout digits of every class.
 */
export async function startFleet(
  hub: Hub,
  slices: number[][],
  cleanups: { push(step: () => unknown): unknown },
  perClass = 20,
): Promise<FleetDevice[]> {
  const train = loadDigits(perClass, 0);
  const holdout = loadDigits(3, 600);
  const devices: FleetDevice[] = [];
  for (const [i, slice] of slices.entries()) {
    const dir = tempDir(`outpost-fl-${i}-`);
    cleanups.push(() => dir.remove());
    const device: FleetDevice = {
      creds: await enroll(hub, { name: `fl-${i}` }),
      dataDir: dir.path,
      agent: undefined,
    };
    const agent = await startAgent(device, hub.mqtt.url, {
      inference: { profile: 'x86-64-cpu', threads: 1 },
      // Delivery of the versions the closed loop registers and rolls out.
      delivery: {
        trustedKeys: [hub.delivery.registry.signingKey.keys.publicKeyPem],
        hubHttpUrl: hub.http.url,
        retryMinMs: 50,
        retryMaxMs: 500,
      },
    });
    cleanups.push(() => device.agent?.close());
    await postDigits(agent, sliceDigits(train, slice), 'train');
    await postDigits(agent, sliceDigits(holdout, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 'holdout');
    devices.push(device);
  }
  return devices;
}

/** A hub in a temp dir and the fleet of {@link startFleet} on it; `cleanups` closes both and removes the dir. */
export async function startFlHub(
  slices: number[][],
  cleanups: { push(step: () => unknown): unknown },
  perClass?: number,
  config: Partial<HubConfigInput> = {},
): Promise<{ hub: Hub; fleet: FleetDevice[] }> {
  const dir = tempDir('outpost-fl-hub-');
  cleanups.push(() => dir.remove());
  const hub = await startHub(dir.path, config);
  cleanups.push(() => hub.close());
  const fleet = await startFleet(hub, slices, cleanups, perClass);
  return { hub, fleet };
}

/**
 * Waits until `n` devices are online and their reported state says they take rounds' weights
 * as artifacts (an agent reports it right after connecting; until the hub has stored it, a
 * round would embed the weights for that device).
 */
export async function waitForArtifactDevices(hub: Hub, n: number): Promise<void> {
  await waitFor(async () => {
    const ready = (await hub.store.listDevices()).filter(
      (x) => x.online && (x.reported as { federated?: { artifacts?: boolean } } | null)?.federated?.artifacts,
    );
    return ready.length >= n;
  }, `${n} online devices that take artifacts`);
}

/**
 * Waits until federated task `id` is no longer running (done, stopped or failed) and answers
 * its body as `GET /v1/federated/tasks/{id}` gives it; `what` names the wait if it times out.
 */
export function taskEnded(
  hub: Hub,
  id: string,
  what = `task ${id} to finish`,
  timeoutMs = 60_000,
  // biome-ignore lint/suspicious/noExplicitAny: the task's JSON body, asserted on by each test
): Promise<any> {
  return waitFor(
    async () => {
      const t = (await api(hub, 'GET', `/v1/federated/tasks/${id}`)).body;
      return t.status !== 'running' && t;
    },
    what,
    timeoutMs,
  );
}

/**
 * Asserts that a secure round's new model equals the plain FedAvg model of the same updates
 * within the fixed-point bound, and that the round moved the model at all. Fixed point at
 * 2^16: each summed entry of Σw·δ is off by at most `survivors` / (2·65536); the mean divides
 * by Σw = examples / maxExamples, which carries the same error: twice that.
 */
export function assertSecureMatchesPlain(o: {
  start: ReadonlyArray<{ values: ArrayLike<number> }>;
  plain: ReadonlyArray<{ values: ArrayLike<number> }>;
  secure: ReadonlyArray<{ values: ArrayLike<number> }>;
  survivors: number;
  examples: number;
  maxExamples: number;
  label?: string;
}): void {
  let maxDiff = 0;
  let moved = 0;
  for (const [i, t] of o.plain.entries()) {
    const m = o.secure[i]?.values as ArrayLike<number>;
    const first = o.start[i]?.values as ArrayLike<number>;
    for (let k = 0; k < t.values.length; k++) {
      maxDiff = Math.max(maxDiff, Math.abs((t.values[k] as number) - (m[k] as number)));
      moved = Math.max(moved, Math.abs((t.values[k] as number) - (first[k] as number)));
    }
  }
  const label = o.label === undefined ? '' : `${o.label}: `;
  assert.ok(moved > 1e-3, `${label}the round changed the model (max change ${moved})`);
  const bound = (2 * o.survivors) / (2 * 65536) / (o.examples / o.maxExamples) + 1e-6;
  assert.ok(maxDiff <= bound, `${label}secure and plain models differ by ${maxDiff} > ${bound}`);
}

/** The initial model of the tests: a 784-16-10 MLP. */
export function initialModel(seed = 3): LayersModel {
  return buildMnistMlp(seed, { hidden: [16] });
}

/** A `POST /v1/federated/tasks` body for `model` with `overrides`. */
export function taskBody(
  model: LayersModel,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    model: { name: 'digits', version: '1.0.0' },
    topology: model.modelTopology,
    shapes: model.weights.map((w) => ({ name: w.name, shape: w.shape })),
    weights: Buffer.from(encodeUpdate(model.weights, { compression: 'none' })).toString('base64'),
    lr: 0.1,
    epochs: 1,
    batchSize: 10,
    clipNorm: 20,
    ...overrides,
  };
}
