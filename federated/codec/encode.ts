import type { EncodeOptions, ModelWeights, WeightTensor } from '../types.js';
import { COMPRESSION_CODES, HEADER_BYTES, UPDATE_MAGIC, UPDATE_VERSION } from './format.js';

/** True on little-endian hosts, where float32 values are already in the wire's byte order. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Growable little-endian writer. */
class Writer {
  #buf: Uint8Array;
  #view: DataView;
  length = 0;

  /** `capacity`: the bytes expected (it grows past them when needed). */
  constructor(capacity = 1024) {
    this.#buf = new Uint8Array(Math.max(16, capacity));
    this.#view = new DataView(this.#buf.buffer);
  }

  #reserve(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.length + n));
    next.set(this.#buf.subarray(0, this.length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.#reserve(1);
    this.#view.setUint8(this.length++, v);
  }
  u16(v: number): void {
    this.#reserve(2);
    this.#view.setUint16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number): void {
    this.#reserve(4);
    this.#view.setUint32(this.length, v, true);
    this.length += 4;
  }
  f32(v: number): void {
    this.#reserve(4);
    this.#view.setFloat32(this.length, v, true);
    this.length += 4;
  }
  bytes(b: Uint8Array): void {
    this.#reserve(b.length);
    this.#buf.set(b, this.length);
    this.length += b.length;
  }
  f32s(v: Float32Array): void {
    this.#reserve(v.length * 4);
    if (LITTLE_ENDIAN) {
      // One copy of the whole tensor instead of a DataView call per value.
      this.#buf.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), this.length);
    } else {
      for (let k = 0; k < v.length; k++) this.#view.setFloat32(this.length + 4 * k, v[k] as number, true);
    }
    this.length += v.length * 4;
  }
  done(): Uint8Array {
    // Sized right (uncompressed updates): the buffer itself, not a copy of it.
    return this.length === this.#buf.length ? this.#buf : this.#buf.slice(0, this.length);
  }
}

function int8(w: Writer, values: Float32Array): void {
  let max = 0;
  for (let k = 0; k < values.length; k++) max = Math.max(max, Math.abs(values[k] as number));
  const scale = max > 0 ? max / 127 : 1;
  w.f32(scale);
  const q = new Int8Array(values.length);
  for (let k = 0; k < values.length; k++)
    q[k] = Math.max(-127, Math.min(127, Math.round((values[k] as number) / scale)));
  w.bytes(new Uint8Array(q.buffer));
}

/** The k-th largest of `a` (1-based), by quickselect on a copy: O(n) on average. */
function kthLargest(a: Float32Array, k: number): number {
  const v = a.slice();
  let lo = 0;
  let hi = v.length - 1;
  const target = k - 1; // index in descending order
  while (lo < hi) {
    const pivot = v[(lo + hi) >>> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((v[i] as number) > pivot) i++;
      while ((v[j] as number) < pivot) j--;
      if (i <= j) {
        const t = v[i] as number;
        v[i++] = v[j] as number;
        v[j--] = t;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return v[target] as number;
}

function topk(w: Writer, values: Float32Array, fraction: number): void {
  const k = Math.min(values.length, Math.max(1, Math.ceil(fraction * values.length)));
  // The k largest |value|: all above the k-th magnitude, then ties at it in index order.
  const magnitudes = values.map(Math.abs);
  const threshold = kthLargest(magnitudes, k);
  const kept = new Uint32Array(k);
  let above = 0;
  for (let i = 0; i < values.length; i++) if ((magnitudes[i] as number) > threshold) above++;
  let n = 0;
  let ties = k - above;
  for (let i = 0; i < values.length && n < k; i++) {
    const m = magnitudes[i] as number;
    if (m > threshold || (m === threshold && ties-- > 0)) kept[n++] = i;
  }
  w.u32(k);
  for (const i of kept) w.u32(i);
  for (const i of kept) w.f32(values[i] as number);
}

/**
 * Encodes a delta for the wire (format in `format.ts`). `int8` keeps one scale per tensor
 * (max |value| / 127; error ≤ scale/2 per entry, about 4× smaller); `topk` keeps the
 * `topkFraction` (default 0.01, at least one entry) largest-magnitude entries of each tensor
 * with their indices (8 bytes per kept entry); `none` is float32 as is. The caller clips and
 * validates first; values are not checked here. Throws RangeError for a bad fraction.
 */
export function encodeUpdate(delta: ModelWeights, options: EncodeOptions = {}): Uint8Array {
  const compression = options.compression ?? 'none';
  const fraction = options.topkFraction ?? 0.01;
  if (compression === 'topk' && !(fraction > 0 && fraction <= 1)) {
    throw new RangeError(`encodeUpdate: topkFraction must be in (0, 1], got ${fraction}`);
  }
  const code = COMPRESSION_CODES[compression];
  if (code === undefined)
    throw new RangeError(`encodeUpdate: unknown compression ${JSON.stringify(compression)}`);
  // Uncompressed: the exact size, so the writer never grows (a 20 MB model is one allocation).
  const exact =
    compression === 'none'
      ? HEADER_BYTES +
        delta.reduce(
          (n, t) => n + 2 + Buffer.byteLength(t.name) + 1 + 4 * t.shape.length + 4 * t.values.length,
          0,
        )
      : undefined;
  const w = new Writer(exact);
  w.bytes(new TextEncoder().encode(UPDATE_MAGIC));
  w.u8(UPDATE_VERSION);
  w.u8(code);
  w.u16(0);
  w.u32(delta.length);
  if (w.length !== HEADER_BYTES) throw new Error('update header size drifted');
  for (const t of delta as WeightTensor[]) {
    const name = new TextEncoder().encode(t.name);
    w.u16(name.length);
    w.bytes(name);
    w.u8(t.shape.length);
    for (const d of t.shape) w.u32(d);
    if (compression === 'none') w.f32s(t.values);
    else if (compression === 'int8') int8(w, t.values);
    else topk(w, t.values, fraction);
  }
  return w.done();
}
