import { OutpostError, TENSOR_DTYPES } from '../../shared/index.js';
import {
  bytesOf,
  DTYPE_BYTES,
  elementCount,
  type HostTensor,
  type TensorDtype,
  type TensorMap,
  viewOf,
} from './host-tensor.js';

/**
 * The binary tensor form of the inference APIs, media type
 * {@link TENSOR_MEDIA_TYPE}. Little-endian throughout:
 *
 * ```
 * bytes 0-3   magic "OTB1"
 * bytes 4-7   uint32 H: length of the JSON header
 * bytes 8..   header, UTF-8 JSON: {"tensors":[{"name","dtype","dims","offset","length"}], ...extra}
 * then        zero padding up to a multiple of 8, then the payload
 * ```
 *
 * `offset`/`length` locate each tensor's raw row-major elements (bytes) inside the payload;
 * offsets are multiples of 8 so every tensor can be viewed in place. float16 elements are
 * IEEE half bits, bool one byte 0/1. String tensors have no binary form (use JSON).
 */
export const TENSOR_MEDIA_TYPE = 'application/vnd.outpost.tensors';
const MAGIC = 0x3142544f; // "OTB1" read as a little-endian uint32
const MAX_HEADER_BYTES = 1024 * 1024;

interface HeaderEntry {
  name: string;
  dtype: TensorDtype;
  dims: number[];
  offset: number;
  length: number;
}

const align8 = (n: number) => Math.ceil(n / 8) * 8;

/** Encodes named tensors (and optional extra header fields) in the binary form. */
export function encodeTensors(tensors: TensorMap, extra: Record<string, unknown> = {}): Buffer {
  const entries: HeaderEntry[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of Object.entries(tensors)) {
    if (tensor.dtype === 'string') {
      throw new OutpostError('INFER_BAD_INPUT', `${name}: string tensors have no binary form; use JSON`);
    }
    const bytes = bytesOf(tensor);
    entries.push({ name, dtype: tensor.dtype, dims: [...tensor.dims], offset, length: bytes.byteLength });
    parts.push(bytes);
    offset = align8(offset + bytes.byteLength);
  }
  const header = Buffer.from(JSON.stringify({ ...extra, tensors: entries }), 'utf8');
  const payloadStart = align8(8 + header.byteLength);
  const out = Buffer.alloc(payloadStart + offset);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(header.byteLength, 4);
  header.copy(out, 8);
  for (const [i, entry] of entries.entries()) out.set(parts[i] as Uint8Array, payloadStart + entry.offset);
  return out;
}

function bad(message: string): OutpostError {
  return new OutpostError('INFER_BAD_INPUT', `binary tensors: ${message}`, { details: [message] });
}

/**
 * Decodes the binary form. Tensors are views into `body` (no copy when aligned). Throws
 * `INFER_BAD_INPUT` naming what is wrong: magic, header, a tensor's dtype, dims or extent.
 */
export function decodeTensors(body: Uint8Array): { tensors: TensorMap; extra: Record<string, unknown> } {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buf.byteLength < 8 || buf.readUInt32LE(0) !== MAGIC) throw bad('body does not start with "OTB1"');
  const headerLength = buf.readUInt32LE(4);
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > buf.byteLength) {
    throw bad(`header length ${headerLength} exceeds the body (${buf.byteLength} bytes)`);
  }
  let header: { tensors?: unknown } & Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLength).toString('utf8')) as typeof header;
  } catch (err) {
    throw bad(`header is not JSON: ${(err as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || !Array.isArray(header.tensors)) {
    throw bad('header has no "tensors" array');
  }
  const payloadStart = align8(8 + headerLength);
  const tensors: TensorMap = {};
  for (const raw of header.tensors as Partial<HeaderEntry>[]) {
    tensors[String(raw.name)] = readEntry(buf, payloadStart, raw);
  }
  const { tensors: _, ...extra } = header;
  return { tensors, extra };
}

function readEntry(buf: Buffer, payloadStart: number, raw: Partial<HeaderEntry>): HostTensor {
  const name = raw.name;
  if (typeof name !== 'string' || name.length === 0) throw bad('a tensor has no name');
  const dtype = raw.dtype;
  if (!TENSOR_DTYPES.includes(dtype as TensorDtype) || dtype === 'string' || dtype === undefined) {
    throw bad(`${name}: dtype ${JSON.stringify(dtype)} has no binary form`);
  }
  const dims = raw.dims;
  if (!Array.isArray(dims) || !dims.every((d) => Number.isInteger(d) && d >= 0) || dims.length > 16) {
    throw bad(`${name}: dims ${JSON.stringify(dims)} are not up to 16 non-negative integers`);
  }
  const count = elementCount(dims);
  const length = count * DTYPE_BYTES[dtype];
  const { offset } = raw;
  if (raw.length !== length)
    throw bad(`${name}: ${dtype} ${JSON.stringify(dims)} needs ${length} bytes, header says ${raw.length}`);
  if (
    !Number.isInteger(offset) ||
    (offset as number) < 0 ||
    payloadStart + (offset as number) + length > buf.byteLength
  ) {
    throw bad(`${name}: bytes [${offset}, +${length}) lie outside the payload`);
  }
  const bytes = buf.subarray(payloadStart + (offset as number), payloadStart + (offset as number) + length);
  return { dtype, dims, data: viewOf(dtype, bytes, count) };
}
