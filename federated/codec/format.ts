/**
 * The update wire format, little-endian, version 1:
 *
 * ```
 * header   "OPFU" · u8 version=1 · u8 compression (0 none, 1 int8, 2 topk) · u16 0 · u32 tensors
 * tensor   u16 nameBytes · name (UTF-8) · u8 rank · u32 dims[rank] · payload
 * payload  none: f32[n]
 *          int8: f32 scale · i8[n]                 (value = q·scale, symmetric, |q| ≤ 127)
 *          topk: u32 k · u32 index[k] · f32 value[k] (ascending indices; others are 0)
 * ```
 */
export const UPDATE_MAGIC = 'OPFU';
export const UPDATE_VERSION = 1;
export const COMPRESSION_CODES = { none: 0, int8: 1, topk: 2 } as const;
export const HEADER_BYTES = 12;
