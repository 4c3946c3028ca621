import { OutpostError } from '../../shared/index.js';
import type { Compression, ModelWeights } from '../types.js';
import { sizeOf, type TensorShape } from '../weights.js';
import { COMPRESSION_CODES, HEADER_BYTES, UPDATE_MAGIC, UPDATE_VERSION } from './format.js';

function bad(message: string): OutpostError {
  return new OutpostError('FL_BAD_UPDATE', `update: ${message}`);
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bounds-checked little-endian reader; every overrun names what was being read. */
class Reader {
  readonly #view: DataView;
  offset = 0;
  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  #need(n: number, what: string): void {
    if (this.offset + n > this.bytes.length) {
      throw bad(
        `truncated at byte ${this.offset} reading ${what} (${n} bytes needed, ${this.bytes.length - this.offset} left)`,
      );
    }
  }
  u8(what: string): number {
    this.#need(1, what);
    return this.#view.getUint8(this.offset++);
  }
  u16(what: string): number {
    this.#need(2, what);
    const v = this.#view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }
  u32(what: string): number {
    this.#need(4, what);
    const v = this.#view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }
  f32(what: string): number {
    this.#need(4, what);
    const v = this.#view.getFloat32(this.offset, true);
    this.offset += 4;
    return v;
  }
  /** `n` float32s with one bounds check: one byte copy on a little-endian host (the wire's order). */
  f32s(n: number, what: string): Float32Array {
    this.#need(4 * n, what);
    const out = new Float32Array(n);
    if (LITTLE_ENDIAN_HOST) {
      new Uint8Array(out.buffer).set(this.bytes.subarray(this.offset, this.offset + 4 * n));
    } else {
      for (let k = 0; k < n; k++) out[k] = this.#view.getFloat32(this.offset + 4 * k, true);
    }
    this.offset += 4 * n;
    return out;
  }
  raw(n: number, what: string): Uint8Array {
    this.#need(n, what);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
}

const COMPRESSION_OF = Object.fromEntries(
  Object.entries(COMPRESSION_CODES).map(([k, v]) => [v, k]),
) as Record<number, Compression>;

function payload(r: Reader, compression: Compression, n: number, name: string): Float32Array {
  if (compression === 'none') return r.f32s(n, `${name} values`);
  const values = new Float32Array(n);
  if (compression === 'int8') {
    const scale = r.f32(`${name} scale`);
    if (!(Number.isFinite(scale) && scale > 0)) throw bad(`${name} has int8 scale ${scale}`);
    const q = new Int8Array(r.raw(n, `${name} int8 values`).slice().buffer);
    for (let k = 0; k < n; k++) values[k] = (q[k] as number) * scale;
  } else {
    const k = r.u32(`${name} top-k count`);
    if (k > n) throw bad(`${name} keeps ${k} entries of ${n}`);
    const idx = new Uint32Array(k);
    let previous = -1;
    for (let i = 0; i < k; i++) {
      const at = r.u32(`${name} top-k indices`);
      if (at >= n || at <= previous) throw bad(`${name} top-k index ${at} is out of range or not ascending`);
      idx[i] = at;
      previous = at;
    }
    for (let i = 0; i < k; i++) values[idx[i] as number] = r.f32(`${name} top-k values`);
  }
  return values;
}

/**
 * Decodes bytes from `encodeUpdate` and checks them against the model's tensors (names,
 * shapes, order). Throws `FL_BAD_UPDATE` naming the problem: bad magic or version, unknown
 * compression, a tensor that is not the expected one, truncation, trailing bytes. Values
 * are not validated here (use `validateUpdate`: finiteness, norm).
 */
export function decodeUpdate(bytes: Uint8Array, expected: ReadonlyArray<TensorShape>): ModelWeights {
  if (bytes.length < HEADER_BYTES)
    throw bad(`${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  const r = new Reader(bytes);
  const magic = new TextDecoder().decode(r.raw(4, 'magic'));
  if (magic !== UPDATE_MAGIC) throw bad(`magic ${JSON.stringify(magic)}, expected ${UPDATE_MAGIC}`);
  const version = r.u8('version');
  if (version !== UPDATE_VERSION) throw bad(`format version ${version}; this build reads ${UPDATE_VERSION}`);
  const code = r.u8('compression');
  const compression = COMPRESSION_OF[code];
  if (!compression) throw bad(`unknown compression code ${code}`);
  r.u16('reserved');
  const count = r.u32('tensor count');
  if (count !== expected.length) throw bad(`${count} tensors; the model has ${expected.length}`);
  const out: ModelWeights = [];
  for (const e of expected) {
    const nameLength = r.u16('name length');
    const name = new TextDecoder().decode(r.raw(nameLength, 'name'));
    if (name !== e.name)
      throw bad(`tensor ${out.length} is ${JSON.stringify(name)}, expected ${JSON.stringify(e.name)}`);
    const rank = r.u8(`${name} rank`);
    const shape = Array.from({ length: rank }, () => r.u32(`${name} dims`));
    if (rank !== e.shape.length || shape.some((d, k) => d !== e.shape[k])) {
      throw bad(`${name} has shape [${shape.join(', ')}], expected [${e.shape.join(', ')}]`);
    }
    out.push({ name, shape, values: payload(r, compression, sizeOf(shape), name) });
  }
  if (r.offset !== bytes.length) throw bad(`${bytes.length - r.offset} trailing bytes after the last tensor`);
  return out;
}

/** The compression an encoded update uses (from its header); throws `FL_BAD_UPDATE` on a bad header. */
export function compressionOf(bytes: Uint8Array): Compression {
  if (bytes.length < HEADER_BYTES || new TextDecoder().decode(bytes.subarray(0, 4)) !== UPDATE_MAGIC) {
    throw bad('not an Outpost update (bad header)');
  }
  const c = COMPRESSION_OF[bytes[5] as number];
  if (!c) throw bad(`unknown compression code ${bytes[5]}`);
  return c;
}
