import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { type Agent, AgentConfigSchema, createAgent } from '../../agent/index.js';
import {
  DIGIT_PIXELS,
  type DigitSet,
  loadDigits,
  type TensorMap,
  trainDigitClassifier,
} from '../../inference/index.js';

/** The benchmark's model: a digits MLP trained on real MNIST, and held-out digits. */
export interface DigitsBench {
  bytes: Uint8Array;
  test: DigitSet;
  /** `batch` held-out digits as one input (x [batch, 784]). */
  input(batch: number, offset?: number): TensorMap;
}

/** Trains the benchmark model (hidden 64, 2 epochs on 300 digits per class; deterministic). */
export function digitsBench(): DigitsBench {
  const { bytes } = trainDigitClassifier(loadDigits(300, 0), { hidden: 64, epochs: 2 });
  const test = loadDigits(50, 800);
  return {
    bytes,
    test,
    input: (batch, offset = 0) => ({
      x: {
        dtype: 'float32',
        dims: [batch, DIGIT_PIXELS],
        data: test.pixels.slice(offset * DIGIT_PIXELS, (offset + batch) * DIGIT_PIXELS),
      },
    }),
  };
}

/** An agent (x86-64-cpu profile, 1 thread, no hub: the link just retries) with the model installed as `digits`. */
export async function benchAgent(bytes: Uint8Array): Promise<{ agent: Agent; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-bench-inference-'));
  const file = join(dir, 'digits.onnx');
  await writeFile(file, bytes);
  const agent = await createAgent(
    AgentConfigSchema.parse({
      deviceId: 'dev-bench-inference',
      deviceSecret: 'a-device-secret-of-some-length',
      dataDir: join(dir, 'agent'),
      hub: { mqttUrl: 'mqtt://127.0.0.1:1' },
      api: { port: 0 },
      logLevel: 'silent',
      inference: { profile: 'x86-64-cpu', threads: 1 },
    }),
    { logger: pino({ level: 'silent' }) },
  );
  await agent.models.install({ file, name: 'digits', version: '1.0.0' });
  return {
    agent,
    async close() {
      await agent.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
