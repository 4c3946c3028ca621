import {
  type AggregateResult,
  createStrategy,
  decodeServerState,
  decodeUpdate,
  encodeServerState,
  type ModelWeights,
  mergeTensors,
  pickTensors,
  reassemble,
  type ServerState,
  type TensorShape,
} from '../../federated/index.js';
import type { FederatedStore, FlPendingUpdate, FlUpdateRecord } from '../store/federated-types.js';
import { applyCentralDp, type DpRecord } from './central-dp.js';
import type { FlTaskSpec } from './task-spec.js';
import { updateTensorNames } from './update-tensors.js';

/** What one aggregation produced. */
export interface RoundAggregate {
  /** The new global weights, or null when no update was accepted (the round fails). */
  weights: ModelWeights | null;
  /** The serialised server state for the next round (adaptive strategies), else null. */
  serverState: string | null;
  /** The decided update outcomes to store with the round. */
  updates: FlUpdateRecord[];
  /** Counts: accepted, rejected per reason. */
  accepted: number;
  rejected: Record<string, number>;
  /** Examples behind the accepted updates. */
  examples: number;
  /** Mean of the clients' reported training accuracy (weighted by examples), or null. */
  trainAccuracy: number | null;
  /** Central DP: the noise applied and the privacy spent so far, or null. */
  dp: DpRecord | null;
  /** Why nothing came out, when `weights` is null. */
  failure: string | null;
}

/** Inputs of {@link aggregateRound}. */
export interface AggregateInput {
  store: FederatedStore;
  taskId: string;
  spec: FlTaskSpec;
  /** The round (sync) or model version (async) the aggregate produces the successor of. */
  round: number;
  global: ModelWeights;
  serverState: string | null;
  pending: readonly FlPendingUpdate[];
  now: number;
  /** Central DP: the sampling rate of the round and the DP rounds before it. */
  dpContext?: { q: number; previous: DpRecord['history'] } | undefined;
  /** Source of normal noise for central DP (default cryptographic; tests may seed one). */
  normal?: (() => number) | undefined;
}

const shapesOf = (w: ModelWeights): TensorShape[] => w.map((t) => ({ name: t.name, shape: [...t.shape] }));

function decodeState(text: string | null, like: ModelWeights): ServerState | null {
  if (text === null) return null;
  return decodeServerState(Buffer.from(text, 'base64'), shapesOf(like));
}

/**
 * An update against `shapes`; when `fullShapes` is given (a fine-tuning task) an update of
 * the whole model is also read, and only `shapes`' tensors of it kept.
 */
function decodeDelta(
  bytes: Uint8Array,
  shapes: TensorShape[],
  fullShapes: TensorShape[] | null,
): ModelWeights {
  try {
    return decodeUpdate(bytes, shapes);
  } catch (err) {
    if (fullShapes === null) throw err;
    let whole: ModelWeights;
    try {
      whole = decodeUpdate(bytes, fullShapes);
    } catch {
      throw err;
    }
    return pickTensors(
      whole,
      shapes.map((s) => s.name),
    );
  }
}

/**
 * Aggregates one round: each complete update is reassembled from its
 * chunks (digest checked), decoded against the global model's shapes, and handed to the
 * strategy, which validates it (shape, finite values, norm ≤ clipNorm × normSlack) before
 * any math. Every refusal is recorded with its reason (`digest`, `decode`, the validator's
 * `shape`/`non-finite`/`norm`, `robust-rule`, …). Async updates carry their staleness
 * (`round − update round`). Central DP (when configured) adds Gaussian noise to the result.
 *
 * A fine-tuning task (some layers frozen) aggregates only the trainable layers' tensors: the
 * updates carry those, the strategy (its server state, the norm bound, the DP noise) sees
 * those, and the result is merged into the full global model, whose frozen tensors stay as
 * they were. An update carrying every tensor (a device of the previous release) is accepted
 * and only its trainable part used.
 */
export async function aggregateRound(input: AggregateInput): Promise<RoundAggregate> {
  const { store, spec, taskId } = input;
  const subset = updateTensorNames(spec);
  const full = input.global;
  const global = subset ? pickTensors(full, subset) : full;
  const strategy = createStrategy(spec.strategy, spec.strategyParams);
  const agg = strategy.begin(global, {
    round: input.round,
    state: decodeState(input.serverState, global),
    maxNorm: spec.clipNorm * spec.normSlack,
  });
  const shapes = shapesOf(global);
  const outcome = new Map<string, FlUpdateRecord>();
  const rejected: Record<string, number> = {};
  const key = (p: { round: number; deviceId: string }) => `${p.round}\u0000${p.deviceId}`;
  const reject = (p: FlPendingUpdate, reason: string, detail: string) => {
    const head = reason.split(':')[0] ?? reason;
    rejected[head] = (rejected[head] ?? 0) + 1;
    outcome.set(key(p), {
      taskId,
      round: p.round,
      deviceId: p.deviceId,
      status: 'rejected',
      reason: `${reason}: ${detail}`.slice(0, 1024),
      appliedIn: null,
      at: input.now,
    });
  };
  let examples = 0;
  let accSum = 0;
  const byClient = new Map<string, FlPendingUpdate>();
  for (const p of input.pending) {
    const chunks = await store.getFlChunks(taskId, p.round, p.deviceId);
    let delta: ModelWeights;
    try {
      const bytes = reassemble(
        chunks.map((c) => ({ index: c.index, total: c.total, digest: c.digest, bytes: c.bytes })),
      );
      delta = decodeDelta(bytes, shapes, subset ? shapesOf(full) : null);
    } catch (err) {
      reject(p, /digest/i.test(String(err)) ? 'digest' : 'decode', (err as Error).message);
      continue;
    }
    const meta = chunks[0]?.meta ?? {};
    const n = typeof meta.examples === 'number' ? meta.examples : 0;
    // A client id per (device, round): async mode may fold two versions of one device.
    const clientId = key(p);
    byClient.set(clientId, p);
    const verdict = agg.add({ clientId, delta, examples: n, staleness: Math.max(0, input.round - p.round) });
    if (!verdict.ok) {
      reject(p, verdict.reason, verdict.detail);
      continue;
    }
    examples += n;
    if (typeof meta.accuracy === 'number') accSum += meta.accuracy * n;
  }
  let result: AggregateResult | undefined;
  let failure: string | null = null;
  try {
    result = agg.finish();
  } catch (err) {
    failure = (err as Error).message;
  }
  let dp: DpRecord | null = null;
  if (result) {
    for (const r of result.rejected) {
      const p = byClient.get(r.clientId);
      if (p && !outcome.has(key(p))) reject(p, r.reason, r.detail);
    }
    for (const id of result.accepted) {
      const p = byClient.get(id);
      if (p) {
        outcome.set(key(p), {
          taskId,
          round: p.round,
          deviceId: p.deviceId,
          status: 'accepted',
          reason: null,
          appliedIn: input.round,
          at: input.now,
        });
      }
    }
    if (spec.dp && result.accepted.length > 0) {
      dp = applyCentralDp({
        weights: result.weights,
        clipNorm: spec.clipNorm,
        noiseMultiplier: spec.dp.noiseMultiplier,
        delta: spec.dp.delta,
        accepted: result.accepted.length,
        q: input.dpContext?.q ?? 1,
        previous: input.dpContext?.previous ?? [],
        normal: input.normal,
      });
    }
  }
  const accepted = result?.accepted.length ?? 0;
  if (accepted === 0) {
    // Nothing came out: every update still undecided is refused with the round's failure.
    for (const p of input.pending) {
      if (!outcome.has(key(p))) reject(p, 'round-failed', failure ?? 'no update was accepted');
    }
  }
  return {
    weights: result && accepted > 0 ? (subset ? mergeTensors(full, result.weights) : result.weights) : null,
    serverState: result?.state
      ? Buffer.from(encodeServerState(result.state)).toString('base64')
      : input.serverState,
    updates: [...outcome.values()],
    accepted,
    rejected,
    examples,
    trainAccuracy: examples > 0 && accepted > 0 ? accSum / examples : null,
    dp,
    failure: accepted > 0 ? null : (failure ?? 'no update was accepted'),
  };
}
