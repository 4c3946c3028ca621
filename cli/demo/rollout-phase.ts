import {
  DIGIT_PIXELS,
  type DigitSet,
  loadDigits,
  OnnxModelBuilder,
  trainDigitClassifier,
} from '../../inference/index.js';
import { type HubEndpoint, hubRequest } from '../hub-client.js';
import { digitInputs } from './digits-models.js';
import type { DemoAgent } from './fleet.js';
import { waitFor } from './poll.js';

/** The model the rollout phase delivers (apart from the inference phase's locally installed `digits`). */
export const ROLLOUT_MODEL = 'mnist';

/** One rollout of the phase, as the summary prints it. */
export interface DemoRollout {
  id: string;
  version: string;
  state: string;
  reason: string | null;
  /** Stage index reached (0 = the canary stage). */
  stage: number;
  timeline: Array<{ at: number; kind: string; message: string }>;
}

/** The demo's `rollouts` section. */
export interface DemoRollouts {
  model: string;
  v1: DemoRollout;
  v2: DemoRollout;
  v3: DemoRollout;
  /** Active version per device at the end (from their reported state). */
  final: Record<string, string | null>;
  /** Inferences the devices' applications made during the phase, and how many failed. */
  requests: number;
  failed: number;
  problems: string[];
}

/**
 * A bad v2 made by the demo with the project's ONNX builder: a 784→10 classifier that looks
 * fine to the hub's reference run (inputs in [0, 1)) and to an agent's admission, but reshapes
 * its logits to `[-1, 10 + ⌊max(x)⌋]`: nearly every real MNIST digit has a pixel at full
 * intensity (1.0), and on those the reshape fails ("cannot be reshaped to the requested
 * shape") on every engine. (An out-of-bounds Gather index, the earlier way to break it, throws
 * on onnxruntime's CPU provider but silently reads garbage on WebGPU: no error to gate on.)
 */
export function badDigitsModel(): Uint8Array {
  const w = new Float32Array(DIGIT_PIXELS * 10).map((_, i) => Math.sin(i) * 0.01);
  const int64 = (value: bigint) => ({ dtype: 'int64' as const, dims: [1], data: BigInt64Array.of(value) });
  return new OnnxModelBuilder('digits-v2-broken')
    .input('x', 'float32', ['batch', DIGIT_PIXELS])
    .initializer('w', { dtype: 'float32', dims: [DIGIT_PIXELS, 10], data: w })
    .initializer('b', { dtype: 'float32', dims: [10], data: new Float32Array(10) })
    .initializer('one', int64(1n))
    .initializer('minus1', int64(-1n))
    .initializer('ten', int64(10n))
    .node('Gemm', ['x', 'w', 'b'], ['raw'])
    .node('ReduceMax', ['x'], ['top'], { keepdims: 1 })
    .node('Floor', ['top'], ['floored'])
    .node('Cast', ['floored'], ['index2d'], { to: 7 })
    .node('Reshape', ['index2d', 'one'], ['index'])
    .node('Add', ['ten', 'index'], ['width'])
    .node('Concat', ['minus1', 'width'], ['shape'], { axis: 0 })
    .node('Reshape', ['raw', 'shape'], ['logits'])
    .node('Softmax', ['logits'], ['probs'], { axis: 1 })
    .output('logits', 'float32', ['batch', 10])
    .output('probs', 'float32', ['batch', 10])
    .build();
}

async function push(hub: HubEndpoint, version: string, bytes: Uint8Array): Promise<void> {
  const res = await fetch(new URL(`/v1/models/${ROLLOUT_MODEL}/versions/${version}`, hub.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${hub.token}`, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  if (res.status !== 201)
    throw new Error(`push ${ROLLOUT_MODEL}@${version}: ${res.status} ${await res.text()}`);
}

/** Each device's application classifying digits through its agent until stopped. */
function applications(agents: readonly DemoAgent[], digits: DigitSet) {
  let running = true;
  let requests = 0;
  let failed = 0;
  const loops = agents.map(async (agent, a) => {
    for (let i = a; running; i++) {
      try {
        const res = await fetch(new URL(`/v1/models/${ROLLOUT_MODEL}/infer`, agent.apiUrl ?? ''), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: digitInputs(digits, i % digits.labels.length), cache: false }),
        });
        await res.arrayBuffer();
        // Before the model arrives the agent answers 404: the application just waits for it.
        if (res.status !== 404) {
          requests++;
          if (!res.ok) failed++;
        }
      } catch {
        // The agent is restarting: try again shortly.
      }
      await new Promise((r) => setTimeout(r, 40));
    }
  });
  return {
    counts: () => ({ requests, failed }),
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: the hub's JSON status
type Status = any;

async function runRollout(
  hub: HubEndpoint,
  body: Record<string, unknown>,
  timeoutMs: number,
): Promise<DemoRollout> {
  const created = await hubRequest<{ id: string }>(hub, 'POST', '/v1/rollouts', body);
  const s: Status = await waitFor(
    `rollout of ${ROLLOUT_MODEL}@${String(body.version)} to end`,
    async () => {
      const status: Status = await hubRequest(hub, 'GET', `/v1/rollouts/${created.id}`);
      return status.rollout.state === 'running' ? undefined : status;
    },
    { timeoutMs, intervalMs: 100 },
  );
  return {
    id: created.id,
    version: String(body.version),
    state: s.rollout.state,
    reason: s.rollout.reason,
    stage: s.rollout.stage,
    timeline: s.timeline.map((e: { at: number; kind: string; message: string }) => ({
      at: e.at,
      kind: e.kind,
      message: e.message,
    })),
  };
}

async function activeVersions(
  hub: HubEndpoint,
  ids: readonly string[],
): Promise<Record<string, string | null>> {
  const out: Record<string, string | null> = {};
  for (const id of ids) {
    const d = await hubRequest<{
      reported?: { models?: Array<{ name: string; active?: { version: string } }> };
    }>(hub, 'GET', `/v1/devices/${id}`);
    out[id] = d.reported?.models?.find((m) => m.name === ROLLOUT_MODEL)?.active?.version ?? null;
  }
  return out;
}

/**
 * V1 of a digits model is rolled out to the whole fleet; a bad v2 (made
 * here, fails on real digits) is caught at its canary stage by the `error_rate` gate from the
 * metrics the agents really report, and rolled back automatically; a good v3 (retrained here)
 * passes every stage and reaches every device. Bake times are short so the phase stays quick.
 */
export async function runRolloutPhase(
  hub: HubEndpoint,
  agents: readonly DemoAgent[],
  step: (what: string) => void,
): Promise<DemoRollouts> {
  const problems: string[] = [];
  const digits = loadDigits(4, 850);
  const v1 = trainDigitClassifier(loadDigits(200, 0), { hidden: 24, epochs: 2, seed: 11 });
  const v3 = trainDigitClassifier(loadDigits(300, 0), { hidden: 48, epochs: 2, seed: 13 });
  await push(hub, '1.0.0', v1.bytes);
  await push(hub, '2.0.0', badDigitsModel());
  await push(hub, '3.0.0', v3.bytes);
  step(
    `${ROLLOUT_MODEL} 1.0.0, 2.0.0 (broken: fails on digits with a full-intensity pixel, nearly all) and 3.0.0 (retrained) pushed to the registry, signed by the hub`,
  );

  const apps = applications(agents, digits);
  try {
    const gates = ['requests>=10', 'error_rate<0.05', 'p95_ms<500'];
    const r1 = await runRollout(
      hub,
      { model: ROLLOUT_MODEL, version: '1.0.0', stages: [100], bakeMs: '1s', gates, deviceDeadlineMs: '60s' },
      90_000,
    );
    step(`rollout ${r1.id}: ${ROLLOUT_MODEL}@1.0.0 to every device — ${r1.state}`);
    const r2 = await runRollout(
      hub,
      {
        model: ROLLOUT_MODEL,
        version: '2.0.0',
        stages: [33, 100],
        bakeMs: '5s',
        gates,
        deviceDeadlineMs: '60s',
      },
      90_000,
    );
    step(
      `rollout ${r2.id}: ${ROLLOUT_MODEL}@2.0.0 — ${r2.state} at stage ${r2.stage + 1}: ${r2.reason ?? ''}`,
    );
    const r3 = await runRollout(
      hub,
      {
        model: ROLLOUT_MODEL,
        version: '3.0.0',
        stages: [33, 100],
        bakeMs: '2s',
        gates,
        deviceDeadlineMs: '60s',
      },
      120_000,
    );
    step(`rollout ${r3.id}: ${ROLLOUT_MODEL}@3.0.0 through stages 33% → 100% — ${r3.state}`);
    const ids = agents.map((a) => a.id);
    const final = await waitFor(
      'every device serving 3.0.0',
      async () => {
        const v = await activeVersions(hub, ids);
        return Object.values(v).every((x) => x === '3.0.0') ? v : undefined;
      },
      { timeoutMs: 30_000 },
    ).catch(() => activeVersions(hub, ids));
    if (r1.state !== 'completed') problems.push(`rollout of 1.0.0 ended ${r1.state}: ${r1.reason}`);
    if (r2.state !== 'rolled-back' || r2.stage !== 0)
      problems.push(
        `the broken 2.0.0 was not caught at its canary stage (${r2.state}, stage ${r2.stage + 1})`,
      );
    if (r3.state !== 'completed') problems.push(`rollout of 3.0.0 ended ${r3.state}: ${r3.reason}`);
    for (const [id, v] of Object.entries(final))
      if (v !== '3.0.0') problems.push(`${id} runs ${v} at the end, not 3.0.0`);
    return { model: ROLLOUT_MODEL, v1: r1, v2: r2, v3: r3, final, ...apps.counts(), problems };
  } finally {
    await apps.stop();
  }
}

/** Summary lines of the rollout phase: each rollout's outcome and timeline. */
export function rolloutLines(r: DemoRollouts): string[] {
  const lines = [
    '',
    `rollouts of ${r.model} (${r.requests} digits classified meanwhile, ${r.failed} failed):`,
  ];
  for (const x of [r.v1, r.v2, r.v3]) {
    lines.push(
      `  ${x.id} ${r.model}@${x.version}: ${x.state.toUpperCase()}${x.reason ? ` — ${x.reason}` : ''}`,
    );
    const t0 = x.timeline[0]?.at ?? 0;
    for (const e of x.timeline)
      lines.push(`    +${((e.at - t0) / 1000).toFixed(1).padStart(5)} s  ${e.kind.padEnd(12)} ${e.message}`);
  }
  lines.push(
    `  final: ${Object.entries(r.final)
      .map(([id, v]) => `${id}=${v ?? 'none'}`)
      .join(', ')}`,
  );
  return lines;
}

/** What each demo agent's config file gains for this phase: delivery from the hub, fast metrics. */
export function rolloutAgentConfig(hubUrl: string, trustedKeys: readonly string[]): Record<string, unknown> {
  return {
    delivery: { trustedKeys, hubHttpUrl: hubUrl, retryMinMs: 200, retryMaxMs: 2000 },
    metrics: { flushIntervalMs: 500 },
    // A new agent release has this long to confirm its health before its launcher reverts it.
    update: { confirmTimeoutMs: 60_000 },
  };
}
