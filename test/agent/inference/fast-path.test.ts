import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { AgentMetrics, INFERENCE_BUCKETS_S } from '../../../agent/api/metrics.js';
import { type Agent, createAgent } from '../../../agent/index.js';
import { isOutpostError } from '../../../shared/index.js';
import { agentTestConfig, tempDir } from '../../helpers/agent.js';
import { classifierModel, f32, writeModel } from '../../helpers/models.js';
import { parsePrometheusText, sampleValue } from '../../ops/prom-text.js';

// The in-process inference path without cache or upload (one continuation on the engine's
// promise): every outcome is a rejected promise, never a synchronous throw; each is counted
// once in /metrics (requests, errors, latency); the route and the upload counters move as
// they did through the async path.

const code = (expected: string) => (err: unknown) => isOutpostError(err) && err.code === expected;

async function startAgent(dataDir: string): Promise<Agent> {
  return createAgent(
    agentTestConfig({
      deviceId: 'dev-fast-path',
      deviceSecret: 'a-device-secret-of-some-length',
      dataDir,
      // No hub: the link just retries; inference does not need it.
      hub: { mqttUrl: 'mqtt://127.0.0.1:1' },
      inference: { profile: 'x86-64-cpu', threads: 1 },
    }),
  );
}

describe('inference fast path', () => {
  it('answers, rejects (never throws) bad input, engine failures and unknown models, and counts each once', async () => {
    const dir = tempDir();
    const agent = await startAgent(dir.path);
    try {
      const file = writeModel(dir.path, 'clf.onnx', classifierModel().bytes);
      await agent.models.install({ file, name: 'clf', version: '1.0.0' });
      agent.models.setPolicy('clf', { cache: false });

      const ok = await agent.models.infer('clf', { x: f32([2, 4], [0.1, 0.2, 0.3, 0.4, 1, 2, 3, 4]) });
      assert.equal(ok.cached, false);
      assert.deepEqual(ok.route, { mode: 'local', servedBy: 'local', escalated: false });
      assert.deepEqual(ok.outputs.probs?.dims, [2, 3]);
      assert.deepEqual(Object.keys(ok.outputs), ['logits', 'probs']);

      // Each failure comes back as a rejection of the returned promise.
      let pending: Promise<unknown> | undefined;
      assert.doesNotThrow(() => {
        pending = agent.models.infer('clf', { x: f32([1, 3], [1, 2, 3]) });
      });
      await assert.rejects(pending as Promise<unknown>, code('INFER_BAD_INPUT'));
      // Dims that fit the signature with too few elements: onnxruntime refuses the tensor.
      const short = { x: { dtype: 'float32' as const, dims: [1, 4], data: Float32Array.of(1, 2, 3) } };
      assert.doesNotThrow(() => {
        pending = agent.models.infer('clf', short);
      });
      await assert.rejects(pending as Promise<unknown>, code('INFER_ENGINE_FAILED'));
      await assert.rejects(
        agent.models.infer('nope', { x: f32([1, 4], [1, 2, 3, 4]) }),
        code('INFER_MODEL_NOT_FOUND'),
      );

      const listing = agent.models.get('clf');
      assert.equal(listing.routing?.served.local, 1, 'only the answered call is served locally');
      assert.equal(listing.uploads.skipped, 1, 'the answered call counts as not uploaded');

      const text = await (await fetch(`${agent.api.url}/metrics`)).text();
      const families = parsePrometheusText(text);
      const labels = { model: 'clf', version: '1.0.0', engine: 'onnx:cpu', role: 'active' };
      assert.equal(sampleValue(families, 'outpost_agent_inference_requests_total', labels), 3);
      assert.equal(sampleValue(families, 'outpost_agent_inference_errors_total', labels), 2);
      assert.equal(sampleValue(families, 'outpost_agent_inference_duration_seconds_count', labels), 3);
      assert.equal(
        sampleValue(families, 'outpost_agent_inference_duration_seconds_bucket', { ...labels, le: '+Inf' }),
        3,
      );
    } finally {
      await agent.close();
      dir.remove();
    }
  });
});

describe('inference series in /metrics', () => {
  it('print what prom-client Counters and a Histogram print for the same inferences', async () => {
    const metrics = new AgentMetrics(
      () => {
        throw new Error('the inference series do not read the status');
      },
      () => 'onnx:cpu',
    );
    // The same observations through prom-client's own metrics, as the agent recorded them before.
    const registry = new Registry();
    const labelNames = ['model', 'version', 'engine', 'role'] as const;
    const requests = new Counter({
      name: 'outpost_agent_inference_requests_total',
      help: 'x',
      labelNames,
      registers: [registry],
    });
    const errors = new Counter({
      name: 'outpost_agent_inference_errors_total',
      help: 'x',
      labelNames,
      registers: [registry],
    });
    const latency = new Histogram({
      name: 'outpost_agent_inference_duration_seconds',
      help: 'x',
      labelNames,
      buckets: INFERENCE_BUCKETS_S,
      registers: [registry],
    });
    const ms = [0.1, 0.5, 3, 700, 20, 12_000, 250, 0.0004];
    for (let i = 0; i < 40; i++) {
      const o = {
        model: i % 5 === 0 ? 'b' : 'a',
        version: '1',
        ...(i % 5 === 0 ? { engine: 'onnx:cuda' } : {}),
        role: i % 7 === 0 ? 'shadow' : 'active',
        latencyMs: ms[i % ms.length] as number,
        outputs: i % 9 === 0 ? undefined : {},
      };
      metrics.recordInference(o);
      const l = { model: o.model, version: o.version, engine: o.engine ?? 'onnx:cpu', role: o.role };
      requests.inc(l);
      if (o.outputs === undefined) errors.inc(l);
      latency.observe(l, o.latencyMs / 1000);
    }
    const names = [
      'outpost_agent_inference_requests_total',
      'outpost_agent_inference_errors_total',
      'outpost_agent_inference_duration_seconds',
    ];
    // Only these three: the registry's other metrics read the agent's status.
    const text = (await Promise.all(names.map((n) => metrics.registry.getSingleMetricAsString(n)))).join(
      '\n',
    );
    const ours = [...parsePrometheusText(`${text}\n`).values()];
    const theirs = [...parsePrometheusText(await registry.metrics()).values()];
    const samples = (fs: typeof ours) =>
      fs
        .flatMap((f) => f.samples)
        .map((s) => JSON.stringify([s.name, Object.entries(s.labels).sort(), s.value]))
        .sort();
    assert.ok(samples(ours).length > 50, `${samples(ours).length} samples`);
    assert.deepEqual(samples(ours), samples(theirs));
    assert.deepEqual(
      ours.map((f) => [f.name, f.type]),
      theirs.map((f) => [f.name, f.type]),
    );
  });
});
