import { z } from 'zod';
import { formatIssues } from './codec.js';

/**
 * Pure helpers for the config convention (docs/architecture.md "Conventions"): a zod schema per
 * process, fed from a file, then the environment, then flags (later wins), parsed once and
 * frozen. Reading files and `process.env` is the caller's job; shared stays pure.
 */

export type ConfigObject = Record<string, unknown>;

/** Thrown by {@link parseConfig}; `problems` holds every `path: problem` line. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** A number from a file or a string from env or flags. */
export const configInt = () => z.coerce.number<unknown>().int();

/** A boolean from a file, or the strings `true`/`false`/`1`/`0` from env or flags. */
export const configBool = () =>
  z.preprocess((v) => {
    if (v === 'true' || v === '1') return true;
    if (v === 'false' || v === '0') return false;
    return v;
  }, z.boolean());

const camel = (segment: string): string => segment.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function setPath(target: ConfigObject, path: string[], value: unknown, repeat: 'replace' | 'collect'): void {
  let node = target;
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) {
      const prev = node[key];
      if (repeat === 'collect' && prev !== undefined && (typeof prev !== 'object' || Array.isArray(prev))) {
        node[key] = Array.isArray(prev) ? [...prev, value] : [prev, value];
      } else node[key] = value;
      return;
    }
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as ConfigObject;
  }
}

/**
 * Environment variables under `prefix` become nested keys: with prefix `OUTPOST_HUB_`,
 * `OUTPOST_HUB_HTTP__PORT=8080` gives `{http: {port: '8080'}}` and `OUTPOST_HUB_DATA_DIR`
 * gives `{dataDir: ...}` (`__` nests, `_` joins words in camelCase).
 */
export function configFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  prefix: string,
): ConfigObject {
  const out: ConfigObject = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(prefix) || value === undefined) continue;
    const path = name
      .slice(prefix.length)
      .split('__')
      .map((part) => camel(part.toLowerCase().replace(/_/g, '-')));
    if (path.some((p) => p === '')) continue;
    setPath(out, path, value, 'replace');
  }
  return out;
}

/**
 * Flags become nested keys: `--http.port 8080`, `--http.port=8080`, `--data-dir x`
 * (kebab-case becomes camelCase, dots nest). A flag with no value is `true`; a repeated flag
 * collects its values in an array. Returns the remaining positional arguments too.
 */
export function configFromFlags(argv: readonly string[]): { config: ConfigObject; positionals: string[] } {
  const config: ConfigObject = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--') || arg === '--') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let value: unknown;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !(argv[i + 1] as string).startsWith('--')) value = argv[++i];
    else value = true;
    setPath(config, name.split('.').map(camel), value, 'collect');
  }
  return { config, positionals };
}

/** Deep merge of plain objects; later sources win, arrays and scalars are replaced. */
export function mergeConfig(...sources: ConfigObject[]): ConfigObject {
  const out: ConfigObject = {};
  for (const source of sources) {
    for (const [key, value] of Object.entries(source)) {
      const prev = out[key];
      const bothObjects =
        typeof value === 'object' &&
        value !== null &&
        !Array.isArray(value) &&
        typeof prev === 'object' &&
        prev !== null &&
        !Array.isArray(prev);
      out[key] = bothObjects ? mergeConfig(prev as ConfigObject, value as ConfigObject) : value;
    }
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/** Validates merged sources with `schema`; returns the frozen result or throws {@link ConfigError}. */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  ...sources: ConfigObject[]
): Readonly<z.output<S>> {
  const parsed = schema.safeParse(mergeConfig(...sources));
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error));
  return deepFreeze(parsed.data);
}
