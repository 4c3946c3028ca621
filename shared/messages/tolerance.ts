import { z } from 'zod';
import { LANES, type Lane } from './common.js';

/**
 * Tolerant reading: a receiver keeps what it understands and counts the rest. Unknown
 * fields are dropped from the parsed value, unknown values of the enums that are safe to
 * ignore (lanes in per-lane reports, engine names) are dropped or kept as opaque labels;
 * each one is noted as `field <path>`, `lane <name>` or `engine <name>` for the receiver to
 * count. Notes are gathered while {@link parseTolerant} runs (parsing is synchronous).
 */
let notes: string[] | undefined;

/** Records one tolerated item while a {@link parseTolerant} is running; a no-op otherwise. */
export function noteTolerated(item: string): void {
  notes?.push(item);
}

/** Result of {@link parseTolerant}. */
export type TolerantResult<T> =
  | { success: true; data: T; tolerated: string[] }
  | { success: false; error: z.ZodError; tolerated: string[] };

/** Parses `raw` with `schema`, noting unknown fields and tolerated enum values. */
export function parseTolerant<S extends z.ZodType>(schema: S, raw: unknown): TolerantResult<z.output<S>> {
  const outer = notes;
  notes = [];
  try {
    const parsed = schema.safeParse(raw);
    const tolerated = notes;
    countUnknownFields(schema, raw, '', tolerated);
    return parsed.success
      ? { success: true, data: parsed.data, tolerated }
      : { success: false, error: parsed.error, tolerated };
  } finally {
    notes = outer;
  }
}

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Walks `raw` beside `schema` and notes every object key the schema does not name. */
function countUnknownFields(schema: z.ZodType, raw: unknown, path: string, out: string[]): void {
  const def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  switch (def.type) {
    case 'object':
      if (!isRecord(raw) || def.shape === undefined) return;
      for (const [key, value] of Object.entries(raw)) {
        const field = def.shape[key];
        if (field === undefined) out.push(`field ${path}${key}`);
        else countUnknownFields(field, value, `${path}${key}.`, out);
      }
      return;
    case 'optional':
    case 'nullable':
    case 'default':
    case 'readonly':
    case 'catch':
      if (def.innerType) countUnknownFields(def.innerType, raw, path, out);
      return;
    case 'pipe':
      if (def.in) countUnknownFields(def.in, raw, path, out);
      return;
    case 'array':
      if (Array.isArray(raw) && def.element) {
        for (const [i, item] of raw.entries()) countUnknownFields(def.element, item, `${path}${i}.`, out);
      }
      return;
    case 'record':
      if (isRecord(raw) && def.valueType) {
        for (const [key, value] of Object.entries(raw)) {
          countUnknownFields(def.valueType, value, `${path}${key}.`, out);
        }
      }
      return;
    default:
      return;
  }
}

/**
 * A per-lane record that keeps the known lanes and notes the others (`lane <name>`): a newer
 * agent that adds a lane still has the lanes this side knows read.
 */
export function laneRecord<T extends z.ZodType>(value: T) {
  return z.record(z.string().max(64), value).transform((record) => {
    const known: Partial<Record<Lane, z.output<T>>> = {};
    for (const [lane, entry] of Object.entries(record)) {
      if ((LANES as readonly string[]).includes(lane)) known[lane as Lane] = entry as z.output<T>;
      else noteTolerated(`lane ${lane}`);
    }
    return known;
  });
}

/**
 * A name from `values` or, from a newer peer, another label: kept as it is (shown, never
 * acted on) and noted as `<kind> <value>`.
 */
export function tolerantEnum<const V extends readonly [string, ...string[]]>(values: V, kind: string) {
  return z
    .string()
    .max(64)
    .transform((value): V[number] | (string & {}) => {
      if (!(values as readonly string[]).includes(value)) noteTolerated(`${kind} ${value}`);
      return value;
    });
}
