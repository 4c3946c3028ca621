import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError, type ConfigObject, configFromEnv, parseConfig } from '../shared/index.js';
import { CliError, EXIT } from './exit-codes.js';
import { coerceToSchema } from './schema-flags.js';

/**
 * JSON with `//` line comments and `/* *\/` block comments removed (outside strings), so that
 * config files can explain themselves (see examples/).
 */
export function stripJsonComments(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 1;
    } else out += c;
  }
  return out;
}

/** Reads a JSON config file (comments allowed); a missing or malformed file is a usage error naming the file. */
export function readConfigFile(path: string): ConfigObject {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read config file ${path}: ${(err as Error).message}`, EXIT.USAGE);
  }
  try {
    const value: unknown = JSON.parse(stripJsonComments(text));
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new Error('not a JSON object');
    return value as ConfigObject;
  } catch (err) {
    throw new CliError(`config file ${path} is not a JSON object: ${(err as Error).message}`, EXIT.USAGE);
  }
}

/**
 * Builds a process config from `--config FILE`, then env under `envPrefix`, then the other
 * flags (later wins). Arrays and objects come from env and flags as JSON (`'["a","b"]'`) or,
 * for arrays, one item or repeated flags. A bad value becomes a usage error listing every
 * `path: problem`.
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  envPrefix: string,
  flags: ConfigObject,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Readonly<z.output<S>> {
  const { config: configPath, ...rest } = flags;
  if (configPath !== undefined && typeof configPath !== 'string') {
    throw new CliError('--config needs a file path', EXIT.USAGE);
  }
  const file = typeof configPath === 'string' ? readConfigFile(configPath) : {};
  try {
    const fromEnv = coerceToSchema(schema, configFromEnv(env, envPrefix)) as ConfigObject;
    return parseConfig(schema, file, fromEnv, coerceToSchema(schema, rest) as ConfigObject);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message, EXIT.USAGE);
    if (err instanceof SyntaxError || /not valid JSON/.test((err as Error).message))
      throw new CliError(`invalid configuration: ${(err as Error).message}`, EXIT.USAGE);
    throw err;
  }
}
