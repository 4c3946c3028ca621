import type { z } from 'zod';
import type { ConfigObject } from '../shared/index.js';

/**
 * What a flag holds: `boolean` takes no value, `string` one value, `list` one value per
 * repetition (or one JSON array), `json` one JSON object.
 */
export type FlagKind = 'boolean' | 'string' | 'list' | 'json';

/** One accepted flag: its kebab-case name (dots nest) and what it holds. */
export interface FlagSpec {
  name: string;
  kind: FlagKind;
}

interface ZodDef {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  out?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  options?: z.ZodType[];
}

const defOf = (schema: z.ZodType): ZodDef => (schema as unknown as { _zod: { def: ZodDef } })._zod.def;

const WRAPPERS = new Set(['optional', 'default', 'prefault', 'nullable', 'readonly', 'catch', 'nonoptional']);

/** The schema under wrappers (optional, default, preprocess pipes): what a value must finally be. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let node = schema;
  for (let i = 0; i < 20; i++) {
    const def = defOf(node);
    if (WRAPPERS.has(def.type) && def.innerType) node = def.innerType;
    else if (def.type === 'pipe' && def.out && def.in)
      node = defOf(def.out).type === 'transform' ? def.in : def.out;
    else break;
  }
  return node;
}

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function kindOf(schema: z.ZodType): FlagKind | 'object' {
  const type = defOf(unwrap(schema)).type;
  if (type === 'object') return 'object';
  if (type === 'boolean') return 'boolean';
  if (type === 'array' || type === 'tuple') return 'list';
  if (type === 'record') return 'json';
  return 'string';
}

/**
 * Every leaf setting of a config schema as a flag: `{http: {port}}` gives `http.port`,
 * `dataDir` gives `data-dir`, arrays are `list` flags, records `json` flags.
 */
export function flagsOfSchema(schema: z.ZodType, prefix = ''): FlagSpec[] {
  const def = defOf(unwrap(schema));
  const out: FlagSpec[] = [];
  for (const [key, child] of Object.entries(def.shape ?? {})) {
    const name = `${prefix}${kebab(key)}`;
    const kind = kindOf(child);
    if (kind === 'object') out.push(...flagsOfSchema(child, `${name}.`));
    else out.push({ name, kind });
  }
  return out;
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: not valid JSON (${(err as Error).message})`);
  }
}

/**
 * Brings string values from env or flags to the shape `schema` wants: a string where an
 * array is expected is a JSON array (`'["a","b"]'`) or one item; a string where an object or
 * record is expected is a JSON object. Other values are left for the schema to check.
 */
export function coerceToSchema(schema: z.ZodType, value: unknown, path = ''): unknown {
  const target = unwrap(schema);
  const def = defOf(target);
  if (def.type === 'array') {
    if (typeof value === 'string') {
      if (value.trimStart().startsWith('[')) return parseJson(value, path || '(root)');
      return [value];
    }
    if (Array.isArray(value))
      return value.flatMap((item) =>
        typeof item === 'string' && item.trimStart().startsWith('[')
          ? (parseJson(item, path) as unknown[])
          : [item],
      );
    return value;
  }
  if (def.type === 'record' && typeof value === 'string') return parseJson(value, path || '(root)');
  if (def.type === 'object') {
    const obj = typeof value === 'string' ? parseJson(value, path || '(root)') : value;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return obj;
    const out: ConfigObject = {};
    for (const [key, child] of Object.entries(obj as ConfigObject)) {
      const childSchema = def.shape?.[key];
      out[key] = childSchema ? coerceToSchema(childSchema, child, path ? `${path}.${key}` : key) : child;
    }
    return out;
  }
  return value;
}
