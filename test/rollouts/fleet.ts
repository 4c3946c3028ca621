/**
 * Helpers of the rollout tests: a real hub with fast rollout ticks, real
 * agents that flush metrics quickly, models that are good or that fail on real inputs, and a
 * traffic loop that keeps every agent answering.
 */
import { type Agent, createAgent } from '../../agent/index.js';
import type { Hub } from '../../hub/index.js';
import { OnnxModelBuilder } from '../../inference/index.js';
import { agentTestConfig, tempDir, testLogger, waitFor } from '../helpers/agent.js';
import { Cleanups } from '../helpers/fixtures.js';
import { api, type Credentials, enroll, tempDir as hubTempDir, startHub } from '../helpers/hub.js';
import { classifierModel, f32, seededFloats } from '../helpers/models.js';

export { classifierModel, f32 };

/**
 * A classifier like `classifierModel` that fails on real inputs: it gathers from a
 * one-element table at index ⌊max(x)⌋, which is 0 for the hub's reference inputs (all in
 * [0, 1)) and for zero warm-up inputs, so it is registered and admitted everywhere, but any
 * input with a value ≥ 1 makes onnxruntime fail ("indices element out of data bounds").
 */
export function failsOnRealInputs(seed = 9): Uint8Array {
  return new OnnxModelBuilder('fails-on-real-inputs')
    .input('x', 'float32', ['batch', 4])
    .initializer('w', f32([4, 3], seededFloats(12, seed)))
    .initializer('b', f32([3], seededFloats(3, seed + 100)))
    .initializer('table', f32([1], [0]))
    .node('Gemm', ['x', 'w', 'b'], ['raw'])
    .node('ReduceMax', ['x'], ['top'], { keepdims: 0 })
    .node('Floor', ['top'], ['floored'])
    .node('Cast', ['floored'], ['index'], { to: 7 })
    .node('Gather', ['table', 'index'], ['offset'])
    .node('Add', ['raw', 'offset'], ['logits'])
    .node('Softmax', ['logits'], ['probs'], { axis: 1 })
    .output('logits', 'float32', ['batch', 3])
    .output('probs', 'float32', ['batch', 3])
    .build();
}

/** Pushes an artifact through the admin HTTP API; throws unless 201. */
export async function push(hub: Hub, name: string, version: string, bytes: Uint8Array): Promise<void> {
  const res = await fetch(`${hub.http.url}/v1/models/${name}/versions/${version}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${hub.adminToken}`, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  if (res.status !== 201) throw new Error(`push ${name}@${version}: ${res.status} ${await res.text()}`);
}

/** Agent data directories made by {@link rolloutAgent}, removed with the hub's by `remove()`. */
const agentDirs: Array<() => void> = [];

/** A hub whose driver ticks every 50 ms; `remove()` (after the agents closed) deletes every temp dir. */
export async function rolloutHub(): Promise<{ hub: Hub; remove(): Promise<void> }> {
  const dir = await hubTempDir('outpost-rollouts-');
  const hub = await startHub(dir.path, { rollouts: { tickMs: 50 } });
  return {
    hub,
    remove: async () => {
      await hub.close();
      await dir.remove();
      for (const remove of agentDirs.splice(0)) remove();
    },
  };
}

/** A real agent for `creds` that trusts the hub's key and flushes metrics every 100 ms. */
export async function rolloutAgent(hub: Hub, creds: Credentials): Promise<Agent> {
  const dir = tempDir();
  agentDirs.push(dir.remove);
  const dataDir = dir.path;
  return createAgent(
    agentTestConfig({
      deviceId: creds.id,
      deviceSecret: creds.secret,
      dataDir,
      hub: { mqttUrl: hub.mqtt.url },
      inference: { profile: 'x86-64-cpu', threads: 1 },
      metrics: { flushIntervalMs: 100 },
      delivery: {
        trustedKeys: [hub.delivery.registry.signingKey.keys.publicKeyPem],
        hubHttpUrl: hub.http.url,
        retryMinMs: 50,
        retryMaxMs: 500,
      },
    }),
    { logger: testLogger() },
  );
}

/** Enrolls `n` devices (with labels) and starts an agent for each. */
export async function fleet(
  hub: Hub,
  n: number,
  labels: Record<string, string> = {},
): Promise<Array<{ creds: Credentials; agent: Agent }>> {
  const out: Array<{ creds: Credentials; agent: Agent }> = [];
  for (let i = 0; i < n; i++) {
    const creds = await enroll(hub, { labels });
    out.push({ creds, agent: await rolloutAgent(hub, creds) });
  }
  return out;
}

/** A real input with values ≥ 1 (what the failing model cannot take). */
export const realInput = { x: f32([1, 4], [0.5, -1, 2, 0.25]) };

/**
 * Keeps every agent answering `model` on real inputs (a few per agent per tick) until
 * `stop()`; failures are expected (a bad version) and counted, never thrown.
 */
export function traffic(
  agents: readonly Agent[],
  model: string,
): { stop(): Promise<void>; errors(): number } {
  let running = true;
  let errors = 0;
  const loops = agents.map(async (agent) => {
    while (running) {
      try {
        await agent.models.infer(model, realInput);
      } catch {
        errors++;
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
    errors: () => errors,
  };
}

/** The reported active version of a model on a device, as the hub last stored it. */
export async function activeVersion(hub: Hub, deviceId: string, model: string): Promise<string | undefined> {
  const device = await hub.store.getDevice(deviceId);
  const models = (
    device?.reported as { models?: Array<{ name: string; active?: { version: string } }> } | null
  )?.models;
  return models?.find((m) => m.name === model)?.active?.version;
}

/** `GET /v1/rollouts/:id` as JSON. */
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
export async function rolloutStatus(hub: Hub, id: string): Promise<any> {
  const res = await api(hub, 'GET', `/v1/rollouts/${id}`);
  if (res.status !== 200) throw new Error(`status ${id}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Waits until a rollout leaves `running`; on timeout the error carries its status (timeline, devices). */
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
export async function rolloutEnd(hub: Hub, id: string, timeoutMs = 90_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await rolloutStatus(hub, id);
    if (s.rollout.state !== 'running') return s;
    if (Date.now() > deadline) {
      const brief = {
        stage: s.stage,
        gates: s.gates,
        devices: s.devices,
        timeline: s.timeline.map((e: { kind: string; message: string }) => `${e.kind}: ${e.message}`),
      };
      throw new Error(`rollout ${id} still running: ${JSON.stringify(brief, null, 1)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A rollout hub, a fleet of real agents all running one version of `clf`, and traffic on them. */
export interface FleetOnFirstVersion {
  hub: Hub;
  devices: Array<{ creds: Credentials; agent: Agent }>;
  load: ReturnType<typeof traffic>;
  /** Stops the traffic, closes the agents and removes every temp dir. */
  close(): Promise<void>;
}

/**
 * Starts the set-up of the rollout tests with real agents: a {@link rolloutHub}, the
 * `versions` of model `clf` pushed in order, `devices` agents enrolled with `labels`, all told
 * to run the first version and waited for until each reports it active, and {@link traffic}
 * on every agent.
 */
export async function startFleetOnFirstVersion(options: {
  versions: Array<[version: string, bytes: Uint8Array]>;
  devices: number;
  labels?: Record<string, string>;
}): Promise<FleetOnFirstVersion> {
  const cleanups = new Cleanups();
  try {
    const env = await rolloutHub();
    cleanups.add(() => env.remove());
    const { hub } = env;
    for (const [version, bytes] of options.versions) await push(hub, 'clf', version, bytes);
    const devices = await fleet(hub, options.devices, options.labels);
    cleanups.add(...devices.map((d) => () => d.agent.close()));
    const first = options.versions[0]?.[0] as string;
    const ids = devices.map((d) => d.creds.id);
    await hub.delivery.desired.setModelMany(ids, { name: 'clf', version: first });
    for (const id of ids) {
      await waitFor(async () => (await activeVersion(hub, id, 'clf')) === first, `${id} on ${first}`, 30_000);
    }
    const load = traffic(
      devices.map((d) => d.agent),
      'clf',
    );
    cleanups.add(() => load.stop());
    return { hub, devices, load, close: () => cleanups.run() };
  } catch (err) {
    await cleanups.run().catch(() => undefined);
    throw err;
  }
}
