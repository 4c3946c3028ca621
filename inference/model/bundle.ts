import { OutpostError } from '../../shared/index.js';
import { type ModelSource, parseTfjsModelJson, shardPaths } from './source.js';

/**
 * The single-file TF.js bundle: how a `tfjs-layers` or `tfjs-graph` model
 * travels as ONE content-addressed artifact. Layout, all integers big-endian:
 *
 * ```
 * 8 bytes   magic "OPTFJS01"
 * 4 bytes   uint32 H: length of the header
 * H bytes   UTF-8 JSON header {"format": "tfjs-layers"|"tfjs-graph",
 *                             "files": [{"path": "model.json", "size": N}, {"path": SHARD, "size": N}, ...]}
 * ...       each file's bytes, in header order (model.json first, then the shards in
 *           weightsManifest order)
 * ```
 * The manifest's `sha256`/`size` describe the bundle's bytes. Any other artifact is ONNX.
 */
export const TFJS_BUNDLE_MAGIC = 'OPTFJS01';
const MAX_HEADER = 1024 * 1024;

interface BundleHeader {
  format: 'tfjs-layers' | 'tfjs-graph';
  files: Array<{ path: string; size: number }>;
}

const invalid = (message: string) => new OutpostError('INFER_MODEL_INVALID', `TF.js bundle: ${message}`);

/** True when `bytes` start with the bundle magic. */
export function isTfjsBundle(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 12 && Buffer.from(bytes.subarray(0, 8)).toString('latin1') === TFJS_BUNDLE_MAGIC;
}

/** Packs a TF.js model (model.json and its shards) into one bundle. */
export function packTfjsBundle(source: ModelSource): Uint8Array {
  if (source.format === 'onnx') throw invalid('an ONNX model is shipped as it is, not bundled');
  const files: Array<{ path: string; bytes: Uint8Array }> = [
    { path: 'model.json', bytes: source.modelJsonBytes },
  ];
  for (const p of shardPaths(source.modelJson)) {
    const bytes = source.shards.get(p);
    if (bytes === undefined) throw invalid(`shard ${p} is missing`);
    files.push({ path: p, bytes });
  }
  const header: BundleHeader = {
    format: source.format,
    files: files.map((f) => ({ path: f.path, size: f.bytes.byteLength })),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(12);
  prefix.write(TFJS_BUNDLE_MAGIC, 0, 'latin1');
  prefix.writeUInt32BE(headerBytes.byteLength, 8);
  return Buffer.concat([prefix, headerBytes, ...files.map((f) => f.bytes)]);
}

/** Unpacks a bundle into a model source. Throws `INFER_MODEL_INVALID` naming what is wrong. */
export function unpackTfjsBundle(bytes: Uint8Array): ModelSource {
  if (!isTfjsBundle(bytes)) throw invalid(`does not start with ${TFJS_BUNDLE_MAGIC}`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = buf.readUInt32BE(8);
  if (headerLength > MAX_HEADER || 12 + headerLength > buf.byteLength) {
    throw invalid(`header length ${headerLength} does not fit in ${buf.byteLength} bytes`);
  }
  let header: BundleHeader;
  try {
    header = JSON.parse(buf.subarray(12, 12 + headerLength).toString('utf8')) as BundleHeader;
  } catch (err) {
    throw invalid(`header is not JSON: ${(err as Error).message}`);
  }
  if (
    (header.format !== 'tfjs-layers' && header.format !== 'tfjs-graph') ||
    !Array.isArray(header.files) ||
    header.files[0]?.path !== 'model.json'
  ) {
    throw invalid('header needs a tfjs-layers/tfjs-graph format and model.json as its first file');
  }
  let offset = 12 + headerLength;
  const parts = new Map<string, Uint8Array>();
  for (const file of header.files) {
    if (!Number.isSafeInteger(file.size) || file.size < 0 || offset + file.size > buf.byteLength) {
      throw invalid(`file ${file.path} (${file.size} bytes) runs past the end of the bundle`);
    }
    parts.set(file.path, buf.subarray(offset, offset + file.size));
    offset += file.size;
  }
  if (offset !== buf.byteLength)
    throw invalid(`${buf.byteLength - offset} trailing bytes after the last file`);
  const modelJsonBytes = parts.get('model.json') as Uint8Array;
  const { json } = parseTfjsModelJson(modelJsonBytes);
  parts.delete('model.json');
  for (const p of shardPaths(json))
    if (!parts.has(p)) throw invalid(`shard ${p} of model.json is not in the bundle`);
  return { format: header.format, modelJsonBytes, modelJson: json, shards: parts };
}

/** An artifact's bytes as a model source: a TF.js bundle, else an ONNX file. */
export function artifactSource(bytes: Uint8Array): ModelSource {
  return isTfjsBundle(bytes) ? unpackTfjsBundle(bytes) : { format: 'onnx', bytes };
}
