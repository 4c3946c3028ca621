import { buildMnistMlp, encodeUpdate } from '../../federated/index.js';
import {
  DIGIT_PIXELS,
  type DigitSet,
  encodeTensors,
  loadDigits,
  TENSOR_MEDIA_TYPE,
} from '../../inference/index.js';
import { type HubEndpoint, hubRequest } from '../hub-client.js';
import type { DemoAgent } from './fleet.js';
import { waitFor } from './poll.js';

/** The model the federated phase trains (apart from the other phases' models). */
export const FL_MODEL = 'digits-fl';
const TASK_ID = 'demo-fl';
/** Digit classes each demo device holds (non-IID: nobody sees every digit). */
const SLICES = [
  [0, 1, 2, 3],
  [4, 5, 6],
  [7, 8, 9],
];

/** One round as the demo summary prints it. */
export interface DemoFlRound {
  round: number;
  accepted: number;
  selected: number;
  /** Hub-side accuracy of the round's new model on held-out MNIST digits. */
  hubAccuracy: number | null;
  /** Devices' accuracy of the round's starting model on their holdout samples. */
  deviceAccuracy: number | null;
  /** The version the closed loop registered for this round, if it improved. */
  version: string | null;
}

/** The demo's `federated` section. */
export interface DemoFederated {
  task: string;
  model: string;
  slices: Record<string, number[]>;
  samples: Record<string, number>;
  accuracyBefore: number;
  accuracyAfter: number;
  rounds: DemoFlRound[];
  /** The best version, its rollout, and the devices that run it at the end. */
  version: string | null;
  rollout: string | null;
  runningIt: string[];
  problems: string[];
}

function slice(set: DigitSet, labels: readonly number[]): { pixels: Float32Array; labels: number[] } {
  const rows: number[] = [];
  for (let i = 0; i < set.labels.length; i++) if (labels.includes(set.labels[i] as number)) rows.push(i);
  const pixels = new Float32Array(rows.length * DIGIT_PIXELS);
  rows.forEach((r, k) => {
    pixels.set(set.pixels.subarray(r * DIGIT_PIXELS, (r + 1) * DIGIT_PIXELS), k * DIGIT_PIXELS);
  });
  return { pixels, labels: rows.map((r) => set.labels[r] as number) };
}

async function postSamples(
  apiUrl: string,
  digits: { pixels: Float32Array; labels: number[] },
  split: string,
) {
  const body = encodeTensors(
    { features: { dtype: 'float32', dims: [digits.labels.length, DIGIT_PIXELS], data: digits.pixels } },
    { labels: digits.labels, split },
  );
  const res = await fetch(`${apiUrl}/v1/samples`, {
    method: 'POST',
    headers: { 'content-type': TENSOR_MEDIA_TYPE },
    body,
  });
  if (res.status !== 201) throw new Error(`POST ${apiUrl}/v1/samples: ${res.status} ${await res.text()}`);
}

/**
 * The federated phase of `outpost demo`: each agent gets a non-IID slice
 * of real MNIST digits through its `POST /v1/samples` (they never leave it), the hub runs
 * three synchronous FedAvg rounds across the three devices with hub-side evaluation on
 * held-out digits, registers every improving round as a version of `digits-fl`, and rolls
 * the best one out to the fleet at the end.
 */
export async function runFederatedPhase(
  hub: HubEndpoint,
  agents: readonly DemoAgent[],
  step: (what: string) => void,
): Promise<DemoFederated> {
  const problems: string[] = [];
  const train = loadDigits(40, 0);
  const holdout = loadDigits(4, 600);
  const slices: Record<string, number[]> = {};
  const samples: Record<string, number> = {};
  for (const [i, agent] of agents.entries()) {
    const labels = SLICES[i % SLICES.length] ?? [];
    const mine = slice(train, labels);
    await postSamples(agent.apiUrl ?? '', mine, 'train');
    await postSamples(agent.apiUrl ?? '', slice(holdout, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), 'holdout');
    slices[agent.id] = labels;
    samples[agent.id] = mine.labels.length;
  }
  step(
    `federated: non-IID MNIST slices posted to each agent's POST /v1/samples (${agents
      .map((a) => `${a.id}: digits ${slices[a.id]?.join('')}`)
      .join(', ')}); they never leave the devices`,
  );

  const model = buildMnistMlp(11, { hidden: [16] });
  await hubRequest(hub, 'POST', '/v1/federated/tasks', {
    id: TASK_ID,
    model: { name: FL_MODEL, version: '1.0.0' },
    topology: model.modelTopology,
    shapes: model.weights.map((w) => ({ name: w.name, shape: w.shape })),
    weights: Buffer.from(encodeUpdate(model.weights, { compression: 'none' })).toString('base64'),
    rounds: 3,
    minClients: agents.length,
    deadlineS: 60,
    lr: 0.1,
    epochs: 2,
    batchSize: 10,
    clipNorm: 20,
    hubEval: { perClass: 30 },
    closedLoop: { rollout: { stages: [100], bakeMs: 1000 } },
  });
  // biome-ignore lint/suspicious/noExplicitAny: the hub's JSON
  const task = await waitFor<any>(
    'the federated task to finish its rounds',
    async () => {
      // biome-ignore lint/suspicious/noExplicitAny: the hub's JSON
      const t = await hubRequest<any>(hub, 'GET', `/v1/federated/tasks/${TASK_ID}`);
      return t.status === 'running' ? undefined : t;
    },
    { timeoutMs: 90_000, intervalMs: 200 },
  );
  if (task.status !== 'done') problems.push(`federated task ended ${task.status}: ${task.reason}`);
  // biome-ignore lint/suspicious/noExplicitAny: the hub's JSON
  const { rounds } = await hubRequest<{ rounds: any[] }>(hub, 'GET', `/v1/federated/tasks/${TASK_ID}/rounds`);
  const view: DemoFlRound[] = rounds.map((r) => ({
    round: r.round,
    accepted: r.metrics.accepted ?? 0,
    selected: r.selected.length,
    hubAccuracy: r.metrics.hubEval?.accuracy ?? null,
    deviceAccuracy: r.metrics.federatedEval?.accuracy ?? null,
    version: r.metrics.closedLoop?.version ?? null,
  }));
  const before = Number(rounds[0]?.metrics.hubEvalStart?.accuracy ?? Number.NaN);
  const after = Number(view.at(-1)?.hubAccuracy ?? Number.NaN);
  step(
    `federated: ${view.length} FedAvg rounds across ${agents.length} devices; held-out accuracy ` +
      `${(100 * before).toFixed(1)}% → ${(100 * after).toFixed(1)}%`,
  );
  const version: string | null = task.best?.version ?? null;
  const rollout = rounds.at(-1)?.metrics.closedLoop?.rollout?.id ?? null;
  let runningIt: string[] = [];
  if (version === null) problems.push('federated: no round improved the model, nothing was registered');
  else {
    // The version is registered as ONNX fp32 and int8: each device activates the variant its profile prefers.
    const running = async () => {
      const out: string[] = [];
      for (const a of agents) {
        const res = await fetch(`${a.apiUrl}/v1/models/${FL_MODEL}`);
        const body = (await res.json()) as { active?: { version?: string } | null };
        if (res.ok && body.active?.version === version) out.push(a.id);
      }
      return out;
    };
    runningIt = await waitFor(
      `every device running ${FL_MODEL}@${version}`,
      async () => {
        const out = await running();
        return out.length === agents.length ? out : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    ).catch(() => running());
    step(
      `federated: ${FL_MODEL}@${version} registered (lineage: round ${task.best.round}) and rolled out (${rollout ?? 'no rollout'}); ` +
        `running on ${runningIt.length}/${agents.length} devices`,
    );
  }
  return {
    task: TASK_ID,
    model: FL_MODEL,
    slices,
    samples,
    accuracyBefore: before,
    accuracyAfter: after,
    rounds: view,
    version,
    rollout,
    runningIt,
    problems,
  };
}

/** The summary lines of the federated phase. */
export function federatedLines(fl: DemoFederated): string[] {
  const pct = (x: number | null) => (x === null || Number.isNaN(x) ? '–' : `${(100 * x).toFixed(1)}%`);
  return [
    '',
    `Federated learning: ${fl.model}, non-IID slices, samples per device ${Object.entries(fl.samples)
      .map(([id, n]) => `${id} ${n}`)
      .join(', ')}`,
    `  held-out accuracy before ${pct(fl.accuracyBefore)}, after ${pct(fl.accuracyAfter)}`,
    ...fl.rounds.map(
      (r) =>
        `  round ${r.round}: ${r.accepted}/${r.selected} updates, hub ${pct(r.hubAccuracy)}, devices ${pct(r.deviceAccuracy)}${r.version ? `, registered ${r.version}` : ''}`,
    ),
    `  best version ${fl.version ?? '–'}, rollout ${fl.rollout ?? '–'}, running on ${fl.runningIt.join(', ') || 'no device'}`,
  ];
}
