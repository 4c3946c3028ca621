/** Shared pieces of the ops tests: seeded data, the classifier's classes, a hub + real agent. */
import { join } from 'node:path';
import { type Agent, createAgent } from '../../agent/index.js';
import type { Hub, HubConfigInput } from '../../hub/index.js';
import { agentTestConfig } from '../helpers/agent.js';
import { enroll, startHub, tempDir } from '../helpers/hub.js';
import { classifierModel, f32, matmulBias, writeModel } from '../helpers/models.js';

/** Deterministic standard normal samples (xorshift + Box–Muller). */
export function normals(count: number, seed: number, mean = 0): number[] {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 1) / (2 ** 32 + 2);
  };
  return Array.from(
    { length: count },
    () => mean + Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()),
  );
}

/** Rows of 4 features (the classifier's input width). */
export function rows(n: number, seed: number, mean = 0): number[][] {
  const flat = normals(n * 4, seed, mean);
  return Array.from({ length: n }, (_, i) => flat.slice(i * 4, i * 4 + 4));
}

/** A hub, one enrolled real agent with the `clf` classifier 1.0.0 active, and cleanup. */
export async function hubWithAgent(
  hubConfig: Partial<HubConfigInput> = {},
  deviceId = 'ops-dev-1',
): Promise<{ hub: Hub; agent: Agent; model: ReturnType<typeof classifierModel>; close(): Promise<void> }> {
  const dir = await tempDir('outpost-ops-');
  const hub = await startHub(join(dir.path, 'hub'), hubConfig);
  const creds = await enroll(hub, { id: deviceId, name: `ops ${deviceId}` });
  const model = classifierModel(3);
  const file = writeModel(dir.path, 'clf.onnx', model.bytes);
  const agent = await createAgent(
    agentTestConfig({
      deviceId: creds.id,
      deviceSecret: creds.secret,
      dataDir: join(dir.path, 'agent'),
      hub: { mqttUrl: hub.mqtt.url },
      inference: { profile: 'x86-64-cpu', threads: 1, hubHttpUrl: hub.http.url, cacheMaxBytes: 0 },
      telemetry: { intervalMs: 200, driftEdgesRetryMs: 100 },
    }),
  );
  await agent.models.install({ file, name: 'clf', version: '1.0.0' });
  return {
    hub,
    agent,
    model,
    async close() {
      await agent.close();
      await hub.close();
      await dir.remove();
    },
  };
}

/** Predicted class (argmax of x·W + b) of each row, as the classifier computes it. */
export function classesOf(model: ReturnType<typeof classifierModel>, data: number[][]): number[] {
  const y = matmulBias(data.flat(), data.length, 4, model.w, 3, model.b);
  return data.map((_, r) => {
    const row = [0, 1, 2].map((c) => y[r * 3 + c] as number);
    return row.indexOf(Math.max(...row));
  });
}

/** Runs the agent's classifier on `data` in batches of 50. */
export async function inferRows(agent: Agent, data: number[][]): Promise<void> {
  for (let i = 0; i < data.length; i += 50) {
    const batch = data.slice(i, i + 50);
    await agent.models.infer('clf', { x: f32([batch.length, 4], batch.flat()) });
  }
}
