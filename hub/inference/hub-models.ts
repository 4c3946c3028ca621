import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import {
  admitModel,
  assertInputs,
  type LoadedModel,
  readModelSource,
  type TensorMap,
} from '../../inference/index.js';
import { type EngineName, type EngineRejection, OutpostError } from '../../shared/index.js';

/** The engines the hub tries, in order (a server CPU: no GPU is assumed). */
export const HUB_ENGINES: readonly EngineName[] = ['onnx:cpu', 'onnx-web:wasm', 'tfjs:cpu'];

/** One model the hub serves. */
export interface HubModelSpec {
  name: string;
  /** Path of an `.onnx` file or TF.js `model.json`. */
  file: string;
  /** Reported with results; default `1.0.0`. */
  version?: string;
}

/** A model as the hub runs it: its engine, or why none was admitted. */
export interface HubModelReport {
  name: string;
  version: string;
  engine: EngineName | null;
  rejected: EngineRejection[];
}

/** The hub's model registry: the cloud side of hybrid routing. */
export interface HubModels {
  list(): HubModelReport[];
  /**
   * Runs `name` on its admitted engine. Throws `INFER_MODEL_NOT_FOUND`, `INFER_NO_ENGINE`,
   * `INFER_BAD_INPUT` (naming the tensor) or `INFER_ENGINE_FAILED`.
   */
  infer(
    name: string,
    inputs: TensorMap,
  ): Promise<{ version: string; engine: EngineName; outputs: TensorMap }>;
  close(): Promise<void>;
}

interface Entry {
  version: string;
  model: LoadedModel | undefined;
  rejected: EngineRejection[];
}

/**
 * Loads the configured models plus every `{dataDir}/models/NAME.onnx` (name from the file)
 * through the same admission code as the agent, over {@link HUB_ENGINES}. A model that no
 * engine admits is kept with its rejections (logged at `warn`) and answers `INFER_NO_ENGINE`.
 * Threads: `threads` intra-op (default 1).
 */
export async function loadHubModels(options: {
  dataDir: string;
  models: readonly HubModelSpec[];
  threads?: number;
  log: Logger;
}): Promise<HubModels> {
  const { log } = options;
  const specs = [...options.models];
  const dir = join(options.dataDir, 'models');
  const files = await readdir(dir).catch(() => [] as string[]);
  for (const f of files.filter((x) => x.endsWith('.onnx')).sort()) {
    const name = basename(f, '.onnx');
    if (!specs.some((s) => s.name === name)) specs.push({ name, file: join(dir, f) });
  }
  const entries = new Map<string, Entry>();
  for (const spec of specs) {
    const version = spec.version ?? '1.0.0';
    let source: Awaited<ReturnType<typeof readModelSource>>;
    try {
      source = await readModelSource(spec.file);
    } catch (err) {
      log.warn(
        { model: spec.name, file: spec.file, err },
        'hub model cannot be read; it will answer INFER_NO_ENGINE',
      );
      entries.set(spec.name, {
        version,
        model: undefined,
        rejected: [{ engine: 'onnx:cpu', stage: 'load', reason: (err as Error).message.slice(0, 2000) }],
      });
      continue;
    }
    const admission = await admitModel({
      label: `hub:${spec.name}@${version}`,
      source,
      engines: HUB_ENGINES,
      settingsFor: () => ({ intraOpThreads: options.threads ?? 1, interOpThreads: 1, options: {} }),
      log,
    });
    entries.set(spec.name, { version, model: admission.model, rejected: admission.rejected });
    log.info({ model: spec.name, version, engine: admission.model?.engine ?? null }, 'hub model loaded');
  }
  return {
    list: () =>
      [...entries].map(([name, e]) => ({
        name,
        version: e.version,
        engine: e.model?.engine ?? null,
        rejected: e.rejected.slice(0, 16),
      })),
    async infer(name, inputs) {
      const entry = entries.get(name);
      if (!entry) throw new OutpostError('INFER_MODEL_NOT_FOUND', `the hub serves no model "${name}"`);
      const { model } = entry;
      if (!model) {
        throw new OutpostError('INFER_NO_ENGINE', `no engine was admitted for hub model ${name}`, {
          details: { rejected: entry.rejected },
        });
      }
      assertInputs(model.signature, inputs, name);
      try {
        return { version: entry.version, engine: model.engine, outputs: await model.run(inputs) };
      } catch (err) {
        throw new OutpostError(
          'INFER_ENGINE_FAILED',
          `${name} on ${model.engine}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
    },
    async close() {
      for (const e of entries.values()) await e.model?.close().catch(() => undefined);
      entries.clear();
    },
  };
}
