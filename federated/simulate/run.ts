import type { z } from 'zod';
import { OutpostError } from '../../shared/index.js';
import { compressWithFeedback } from '../codec/error-feedback.js';
import { mulberry32, shuffleInPlace } from '../prng.js';
import { createStrategy } from '../strategies/registry.js';
import { buildMnistCnn } from '../trainer/cnn.js';
import { buildMnistMlp } from '../trainer/topology.js';
import { evaluate, trainLocal } from '../trainer/train.js';
import type { LayersModel, ModelWeights, ServerState } from '../types.js';
import { sub } from '../weights.js';
import { loadMnistSplit, type MnistSplit, subset } from './data.js';
import { type SimulateOptions, SimulateOptionsSchema } from './options.js';
import { partitionRows } from './partition.js';

export { type SimulateOptions, SimulateOptionsSchema } from './options.js';

/** One round's result. */
export interface RoundReport {
  round: number;
  /** Held-out accuracy of the new global model, 0-1. */
  accuracy: number;
  /** Held-out mean cross-entropy. */
  loss: number;
  /** Clients that trained this round. */
  clients: number;
  /** Mean local training loss of those clients (last epoch). */
  trainLoss: number;
  /** Encoded update bytes the clients sent this round (the uplink). */
  bytes: number;
}

/** What {@link simulate} returns. */
export interface SimulationReport {
  options: SimulateOptions;
  /** Held-out accuracy of the initial model. */
  initialAccuracy: number;
  rounds: RoundReport[];
  /** First round whose accuracy ≥ the target, or null. */
  roundsToTarget: number | null;
  /**
   * The round in which a client's training produced a non-finite weight (the lr diverged), or
   * null. The simulation stops there, without that round: the strategies refuse non-finite
   * updates, so the run could not go on.
   */
  divergedAt: number | null;
  backend: string;
}

/**
 * Federated training simulated in-process with the same trainer and strategy
 * code as devices and hub: K clients hold IID or McMahan non-IID shards of real MNIST digits;
 * each round a seeded sample of max(1, round(C·K)) clients trains E epochs of batch B from the
 * global model, the strategy aggregates their deltas, and the new model is evaluated on the
 * held-out digits. Deterministic for a seed (same options → same report). Throws `FL_BAD_PARAMS` for invalid options (every problem named).
 */
export async function simulate(
  input: z.input<typeof SimulateOptionsSchema>,
  hooks: {
    /** Called with each round as it completes. */
    onRound?: (r: RoundReport) => void;
    /** Digits already loaded by `loadMnistSplit(options.trainPerClass)` (default: read them). */
    data?: MnistSplit;
  } = {},
): Promise<SimulationReport> {
  const onRound = hooks.onRound ?? (() => undefined);
  const parsed = SimulateOptionsSchema.safeParse(input);
  if (!parsed.success) {
    throw new OutpostError(
      'FL_BAD_PARAMS',
      parsed.error.issues.map((i) => `${i.path.join('.') || 'options'}: ${i.message}`).join('; '),
    );
  }
  const o = parsed.data;
  const strategy = createStrategy(o.strategy, o.strategyParams);
  const { train, test } = hooks.data ?? loadMnistSplit(o.trainPerClass);
  if (o.clients > train.count)
    throw new OutpostError('FL_BAD_PARAMS', `clients: ${o.clients} for ${train.count} training digits`);
  const shards = partitionRows(train.y, o.clients, o.partition, o.seed).map((rows) => subset(train, rows));
  const perRound = Math.max(1, Math.round(o.fraction * o.clients));
  const random = mulberry32(o.seed);
  let model: LayersModel =
    o.model === 'cnn'
      ? buildMnistCnn(o.seed, { filters: o.filters, dense: o.dense })
      : buildMnistMlp(o.seed, { hidden: o.hidden });
  let state: ServerState | null = null;
  const initial = await evaluate(model, test);
  const rounds: RoundReport[] = [];
  let roundsToTarget: number | null = null;
  let divergedAt: number | null = null;
  const { proxMu } = strategy.clientConfig();
  const residuals = new Map<number, ModelWeights>();
  for (let round = 1; round <= o.rounds; round++) {
    const chosen = shuffleInPlace(
      Array.from({ length: o.clients }, (_, i) => i),
      random,
    )
      .slice(0, perRound)
      .sort((a, b) => a - b);
    const aggregation = strategy.begin(model.weights, { round, state });
    let trainLoss = 0;
    let bytes = 0;
    for (const c of chosen) {
      const samples = shards[c] as (typeof shards)[number];
      const r = await trainLocal({
        model,
        samples,
        lr: o.lr,
        epochs: o.epochs,
        batchSize: o.batch === 0 ? Number.POSITIVE_INFINITY : o.batch,
        seed: (o.seed * 1_000_003 + round * 1009 + c) >>> 0,
        ...(proxMu ? { proxMu } : {}),
      });
      if (!allFinite(r.weights)) {
        divergedAt = round;
        break;
      }
      trainLoss += r.loss / chosen.length;
      // What the hub receives: the delta through the wire codec (unbounded clip: the
      // simulation has no DP), plus the client's carried residual when error feedback is on.
      const wire = compressWithFeedback(sub(r.weights, model.weights), residuals.get(c), {
        compression: o.compression,
        topkFraction: o.topkFraction,
        clipNorm: Number.MAX_VALUE,
      });
      if (o.errorFeedback && o.compression !== 'none') residuals.set(c, wire.residual);
      bytes += wire.encoded.byteLength;
      aggregation.add({ clientId: `client-${c}`, delta: wire.sent, examples: r.examples });
    }
    if (divergedAt !== null) break;
    const result = aggregation.finish();
    state = result.state;
    model = { modelTopology: model.modelTopology, weights: result.weights };
    const e = await evaluate(model, test);
    const report = { round, accuracy: e.accuracy, loss: e.loss, clients: chosen.length, trainLoss, bytes };
    rounds.push(report);
    onRound(report);
    if (roundsToTarget === null && e.accuracy >= o.targetAccuracy) {
      roundsToTarget = round;
      if (o.stopAtTarget) break;
    }
  }
  const { backend } = await import('../trainer/tf.js').then((m) => m.loadTf());
  return { options: o, initialAccuracy: initial.accuracy, rounds, roundsToTarget, divergedAt, backend };
}

/** False when any weight is NaN or ±Infinity. */
function allFinite(weights: ModelWeights): boolean {
  for (const w of weights) for (const v of w.values) if (!Number.isFinite(v)) return false;
  return true;
}
