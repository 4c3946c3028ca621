import type { Logger } from 'pino';
import { type TensorMap, tensorFromJson, tensorToJson } from '../../inference/index.js';
import { isOutpostError, TensorValueSchema } from '../../shared/index.js';
import type { HubStore, PendingRescore, RescoreOutcome } from '../store/types.js';
import type { HubModels } from './hub-models.js';

/** Events re-scored per store read. */
const BATCH = 64;

/** The running re-scorer. */
export interface Rescorer {
  /** Something may be pending (a results batch was stored); runs a pass unless one is running. */
  kick(): void;
  /** Waits for the pass in progress; no new pass starts. */
  close(): Promise<void>;
}

/**
 * Cloud re-scoring: inputs a device answered locally while the hub was out
 * of reach, queued as `inference.rescore` events in its `results` lane, are scored by the
 * hub's model once they are ingested, and each answer is stored once beside its event
 * (`GET /v1/devices/{id}/rescores`). Runs after ingest, never inside it, so acks never wait
 * for a model. A model the hub does not serve leaves its events pending for a hub that does
 * (a later start picks them up); a bad input is stored with its error, never retried.
 */
export function startRescorer(deps: { store: HubStore; models: HubModels; log: Logger }): Rescorer {
  const { store, models, log } = deps;
  let running: Promise<void> | undefined;
  let again = false;
  let closed = false;

  async function score(p: PendingRescore): Promise<RescoreOutcome> {
    const key = { deviceId: p.deviceId, epoch: p.epoch, lane: p.lane, seq: p.seq };
    const fail = (error: string): RescoreOutcome => ({
      ...key,
      model: p.model ?? '',
      version: null,
      engine: null,
      outputs: null,
      error,
      at: Date.now(),
    });
    if (p.model === undefined) return fail('the event names no model (cloudModel or model)');
    const raw = (p.body as { inputs?: unknown } | null)?.inputs;
    if (typeof raw !== 'object' || raw === null) return fail('the event carries no inputs');
    const inputs: TensorMap = {};
    for (const [name, value] of Object.entries(raw)) {
      const parsed = TensorValueSchema.safeParse(value);
      if (!parsed.success) return fail(`input "${name}" is not a JSON tensor`);
      inputs[name] = tensorFromJson(name, parsed.data);
    }
    const result = await models.infer(p.model, inputs);
    const outputs: Record<string, unknown> = {};
    for (const [name, t] of Object.entries(result.outputs)) outputs[name] = tensorToJson(t);
    return {
      ...key,
      model: p.model,
      version: result.version,
      engine: result.engine,
      outputs,
      error: null,
      at: Date.now(),
    };
  }

  async function pass(): Promise<void> {
    const served = new Set(
      models
        .list()
        .filter((m) => m.engine !== null)
        .map((m) => m.name),
    );
    const unserved = new Set<string>();
    for (;;) {
      const pending = await store.pendingRescores(BATCH, [...unserved]);
      if (pending.length === 0 || closed) return;
      for (const p of pending) {
        if (p.model !== undefined && !served.has(p.model)) {
          unserved.add(p.model);
          log.warn(
            { model: p.model, deviceId: p.deviceId },
            'queued input waits: the hub serves no such model',
          );
          continue;
        }
        let outcome: RescoreOutcome;
        try {
          outcome = await score(p);
        } catch (err) {
          if (!isOutpostError(err)) throw err;
          outcome = {
            deviceId: p.deviceId,
            epoch: p.epoch,
            lane: p.lane,
            seq: p.seq,
            model: p.model ?? '',
            version: null,
            engine: null,
            outputs: null,
            error: `${err.code}: ${err.message}`,
            at: Date.now(),
          };
        }
        if (outcome.error)
          log.warn({ deviceId: p.deviceId, seq: p.seq, error: outcome.error }, 'queued input not re-scored');
        await store.putRescore(outcome);
      }
    }
  }

  function kick(): void {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = pass()
      .catch((err: unknown) =>
        log.error({ err }, 're-scoring pass failed; retried on the next results batch'),
      )
      .finally(() => {
        running = undefined;
        if (again && !closed) {
          again = false;
          kick();
        }
      });
  }

  return {
    kick,
    async close() {
      closed = true;
      await running;
    },
  };
}
