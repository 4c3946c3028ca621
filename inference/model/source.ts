import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { type MODEL_FORMATS, OutpostError } from '../../shared/index.js';

export type ModelFormat = (typeof MODEL_FORMATS)[number];

/** A TF.js weights manifest group: shard paths (relative to model.json) and weight specs. */
export interface TfjsWeightsGroup {
  paths: string[];
  weights: Array<Record<string, unknown> & { name: string; shape: number[]; dtype: string }>;
}

/** The parts of a TF.js `model.json` Outpost reads. */
export interface TfjsModelJson {
  format?: string;
  modelTopology: unknown;
  weightsManifest: TfjsWeightsGroup[];
  [key: string]: unknown;
}

/**
 * A model's bytes in memory, as engines load it: an ONNX file, or a TF.js model.json with
 * its weight shards (keyed by their path in the manifest).
 */
export type ModelSource =
  | { format: 'onnx'; bytes: Uint8Array }
  | {
      format: 'tfjs-graph' | 'tfjs-layers';
      modelJsonBytes: Uint8Array;
      modelJson: TfjsModelJson;
      shards: Map<string, Uint8Array>;
    };

function invalid(message: string): OutpostError {
  return new OutpostError('INFER_MODEL_INVALID', message);
}

/** A shard path must stay inside the model's directory. */
function safeShardPath(path: string): string {
  const clean = normalize(path);
  if (isAbsolute(clean) || clean.startsWith('..') || clean.includes('\0')) {
    throw invalid(`weight shard path ${JSON.stringify(path)} leaves the model directory`);
  }
  return clean;
}

/** Parses a model.json; `format` (graph or layers) is read from the file when not given. */
export function parseTfjsModelJson(bytes: Uint8Array): {
  json: TfjsModelJson;
  format: 'tfjs-graph' | 'tfjs-layers';
} {
  let json: TfjsModelJson;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8')) as TfjsModelJson;
  } catch (err) {
    throw invalid(`model.json is not JSON: ${(err as Error).message}`);
  }
  if (
    typeof json !== 'object' ||
    json === null ||
    !json.modelTopology ||
    !Array.isArray(json.weightsManifest)
  ) {
    throw invalid('model.json needs "modelTopology" and a "weightsManifest" array');
  }
  const topology = json.modelTopology as Record<string, unknown>;
  const isGraph = json.format === 'graph-model' || (json.format === undefined && 'node' in topology);
  return { json, format: isGraph ? 'tfjs-graph' : 'tfjs-layers' };
}

/** Shard paths in manifest order, each once. */
export function shardPaths(json: TfjsModelJson): string[] {
  const out: string[] = [];
  for (const group of json.weightsManifest) for (const p of group.paths) if (!out.includes(p)) out.push(p);
  return out;
}

/**
 * Reads a model from disk: an `.onnx` file, or a TF.js `model.json` whose shards lie beside
 * it. The format is taken from the file (ONNX unless the name ends in `.json`). Throws
 * `INFER_MODEL_INVALID` naming the file that is missing or malformed.
 */
export async function readModelSource(path: string): Promise<ModelSource> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw invalid(`cannot read model file ${path}: ${(err as Error).message}`);
  }
  if (!path.endsWith('.json')) return { format: 'onnx', bytes };
  const { json, format } = parseTfjsModelJson(bytes);
  const shards = new Map<string, Uint8Array>();
  for (const p of shardPaths(json)) {
    const file = join(dirname(path), safeShardPath(p));
    try {
      shards.set(p, await readFile(file));
    } catch (err) {
      throw invalid(`cannot read weight shard ${p} of ${path}: ${(err as Error).message}`);
    }
  }
  return { format, modelJsonBytes: bytes, modelJson: json, shards };
}

/**
 * The artifact digest the manifest's `sha256` and `size` describe: an ONNX file's bytes, or
 * for TF.js model.json's bytes followed by every shard's bytes in manifest order.
 */
export function digestModelSource(source: ModelSource): { sha256: string; size: number } {
  const hash = createHash('sha256');
  if (source.format === 'onnx') {
    hash.update(source.bytes);
    return { sha256: hash.digest('hex'), size: source.bytes.byteLength };
  }
  let size = source.modelJsonBytes.byteLength;
  hash.update(source.modelJsonBytes);
  for (const p of shardPaths(source.modelJson)) {
    const shard = source.shards.get(p) ?? new Uint8Array();
    hash.update(shard);
    size += shard.byteLength;
  }
  return { sha256: hash.digest('hex'), size };
}
