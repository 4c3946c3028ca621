import { randomBytes } from 'node:crypto';
import { applyTrainableLayers, decodeUpdate, trainableTensors } from '../../federated/index.js';
import { formatIssues, OutpostError } from '../../shared/index.js';
import { MAX_EMBEDDED_WEIGHTS_CHARS } from '../../shared/messages/federated.js';
import type { EmbeddedModel } from './registry-model.js';
import { type FlTaskSpec, FlTaskSpecSchema } from './task-spec.js';

/**
 * Validates a `POST /v1/federated/tasks` body into a runnable spec: the
 * schema (every problem named), the starting model (embedded, or read from the registry by
 * `loadModel`), weights that decode against their shapes — and fit in a task when they must
 * travel embedded (a hub without the artifact store; otherwise they travel as artifacts, of
 * any size, secure tasks included) — and the rules that span fields (secure aggregation:
 * sync and FedAvg/FedProx, threshold ≤ minClients; count ≥ minClients; `trainableLayers`
 * names layers with weights, and something trains). `trainableLayers` is applied to the topology here: the
 * stored spec's topology carries the `trainable` flags the devices train by. Throws
 * `FL_BAD_PARAMS`. Returns the spec and the starting weights.
 */
export async function resolveTaskSpec(
  input: unknown,
  loadModel: ((name: string, version: string) => Promise<EmbeddedModel>) | undefined,
  options: { artifacts: boolean } = { artifacts: false },
): Promise<{ spec: FlTaskSpec & { id: string }; bytes: Buffer }> {
  const parsed = FlTaskSpecSchema.safeParse(input);
  if (!parsed.success) {
    const problems = formatIssues(parsed.error);
    throw new OutpostError('FL_BAD_PARAMS', `invalid federated task: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  const given = [parsed.data.topology, parsed.data.shapes, parsed.data.weights].filter(
    (v) => v !== undefined,
  );
  if (given.length !== 0 && given.length !== 3) {
    throw new OutpostError(
      'FL_BAD_PARAMS',
      'give all of topology, shapes and weights, or none (from the registry)',
    );
  }
  let model: EmbeddedModel;
  if (parsed.data.topology && parsed.data.shapes && parsed.data.weights) {
    model = { topology: parsed.data.topology, shapes: parsed.data.shapes, weights: parsed.data.weights };
  } else if (loadModel) {
    model = await loadModel(parsed.data.model.name, parsed.data.model.version);
  } else {
    throw new OutpostError(
      'FL_BAD_PARAMS',
      'no starting model: give topology, shapes and weights (no registry here)',
    );
  }
  const id = parsed.data.id ?? `fl-${randomBytes(6).toString('hex')}`;
  const spec: FlTaskSpec & { id: string } = { ...parsed.data, ...model, id };
  const bytes = Buffer.from(spec.weights, 'base64');
  try {
    decodeUpdate(bytes, spec.shapes);
  } catch (err) {
    throw new OutpostError(
      'FL_BAD_PARAMS',
      `weights do not decode against shapes: ${(err as Error).message}`,
    );
  }
  if (spec.trainableLayers !== undefined) {
    spec.topology = applyTrainableLayers(spec.topology, spec.trainableLayers).topology;
    const trained = trainableTensors(spec.topology);
    const known = new Map(spec.shapes.map((s) => [s.name, s.shape.join(',')]));
    const misfit = trained.filter((t) => known.get(t.name) !== t.shape.join(','));
    if (misfit.length > 0)
      throw new OutpostError(
        'FL_BAD_PARAMS',
        `trainableLayers: the weights have no tensor ${misfit.map((t) => `${t.name}[${t.shape}]`).join(', ')}`,
      );
  }
  if (spec.weights.length > MAX_EMBEDDED_WEIGHTS_CHARS && !options.artifacts) {
    throw new OutpostError(
      'FL_BAD_PARAMS',
      `weights of ${spec.weights.length} base64 characters exceed the ${MAX_EMBEDDED_WEIGHTS_CHARS} a task embeds (this hub has no artifact store to send them as an artifact)`,
    );
  }
  if (spec.secagg && (spec.mode !== 'sync' || !['fedavg', 'fedprox'].includes(spec.strategy))) {
    throw new OutpostError('FL_BAD_PARAMS', 'secagg needs mode sync and strategy fedavg or fedprox');
  }
  if (spec.secagg && spec.minClients < spec.secagg.threshold) {
    throw new OutpostError(
      'FL_BAD_PARAMS',
      `secagg threshold ${spec.secagg.threshold} exceeds minClients ${spec.minClients}`,
    );
  }
  if (spec.count !== undefined && spec.count < spec.minClients) {
    throw new OutpostError('FL_BAD_PARAMS', `count ${spec.count} is below minClients ${spec.minClients}`);
  }
  return { spec, bytes };
}
