import { parseArgs } from 'node:util';
import type { ConfigObject } from '../shared/index.js';
import { CliError, EXIT } from './exit-codes.js';
import type { FlagSpec } from './schema-flags.js';

/** What a command line holds once checked against the command's flags. */
export interface ParsedArgs {
  /** Flag values under camelCase keys, dots nested: `--http.port 0` → `{http: {port: '0'}}`. */
  flags: ConfigObject;
  positionals: string[];
}

const camel = (segment: string): string => segment.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function setPath(target: ConfigObject, path: string[], value: unknown): void {
  let node = target;
  for (const [i, key] of path.entries()) {
    if (i === path.length - 1) {
      node[key] = value;
      return;
    }
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as ConfigObject;
  }
}

/** Edit distance, for "did you mean" suggestions. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const here = row[j] as number;
      row[j] = Math.min(here + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = here;
    }
  }
  return row[b.length] as number;
}

/** The known flag nearest to `name`, when one is near enough to be a likely typo. */
export function suggestFlag(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const candidate of known) {
    const d = candidate.startsWith(name) || name.startsWith(candidate) ? 1 : distance(name, candidate);
    if (!best || d < best.d) best = { name: candidate, d };
  }
  return best && best.d <= Math.max(2, Math.floor(name.length / 3)) ? best.name : undefined;
}

function usageError(message: string, command: string): CliError {
  return new CliError(`${message}\nRun 'outpost ${command} --help' for its options.`, EXIT.USAGE);
}

/**
 * Parses `argv` with `node:util` parseArgs in strict mode against `specs` (plus `--help`/`-h`):
 * an unknown flag, a missing value or a value given to a switch is a usage error (exit 2) that
 * names the flag and suggests the nearest known one. Repeated `list` flags collect their values;
 * a `list` value may also be a JSON array; a `json` value must be JSON. `--name=false` turns a
 * boolean flag off.
 */
export function parseCommandArgs(
  argv: readonly string[],
  specs: readonly FlagSpec[],
  command: string,
  shorts: Readonly<Record<string, string>> = {},
): ParsedArgs {
  const byName = new Map(specs.map((s) => [s.name, s]));
  byName.set('help', { name: 'help', kind: 'boolean' });
  const falseSwitches = new Set<string>();
  const fixed: string[] = [];
  for (const arg of argv) {
    const m = /^--([^=]+)=(true|false)$/.exec(arg);
    if (m && byName.get(m[1] as string)?.kind === 'boolean') {
      if (m[2] === 'false') falseSwitches.add(m[1] as string);
      else fixed.push(`--${m[1]}`);
    } else fixed.push(arg);
  }
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const spec of byName.values())
    options[spec.name] = {
      type: spec.kind === 'boolean' ? 'boolean' : 'string',
      ...(spec.kind === 'list' ? { multiple: true } : {}),
    };
  options.help = { type: 'boolean', short: 'h' };
  for (const [short, long] of Object.entries(shorts)) {
    const option = options[long];
    if (option) option.short = short;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: fixed, options, strict: true, allowPositionals: true });
  } catch (err) {
    const message = (err as Error).message;
    const unknown = /Unknown option '(-{1,2})([^']+)'/.exec(message);
    if (unknown) {
      const name = unknown[2] as string;
      const near = suggestFlag(name, [...byName.keys()]);
      throw usageError(
        `unknown option ${unknown[1]}${name} for 'outpost ${command}'${near ? `; did you mean --${near}?` : ''}`,
        command,
      );
    }
    throw usageError(`${message.split('\n')[0]} (outpost ${command})`, command);
  }
  const flags: ConfigObject = {};
  for (const [name, value] of Object.entries(parsed.values)) {
    const spec = byName.get(name);
    let out: unknown = value;
    if (spec?.kind === 'list' && Array.isArray(value))
      out = value.flatMap((item) =>
        String(item).trimStart().startsWith('[') ? jsonValue(name, command, String(item)) : [item],
      );
    else if (spec?.kind === 'json') out = jsonValue(name, command, String(value));
    setPath(flags, name.split('.').map(camel), out);
  }
  for (const name of falseSwitches) setPath(flags, name.split('.').map(camel), false);
  return { flags, positionals: parsed.positionals };
}

function jsonValue(name: string, command: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw usageError(`--${name} is not valid JSON: ${(err as Error).message}`, command);
  }
}
