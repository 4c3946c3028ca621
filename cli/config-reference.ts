import type { z } from 'zod';
import { AgentConfigSchema } from '../agent/config.js';
import { HubConfigSchema } from '../hub/config.js';
import { unwrap } from './schema-flags.js';

interface ZodDef {
  type: string;
  shape?: Record<string, z.ZodType>;
  entries?: Record<string, string>;
  element?: z.ZodType;
}

const defOf = (schema: z.ZodType): ZodDef => (schema as unknown as { _zod: { def: ZodDef } })._zod.def;

const kebab = (key: string): string => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

/** What a leaf setting holds, in words: `integer`, `one of a, b`, `list of string`. */
function typeOf(schema: z.ZodType): string {
  const def = defOf(unwrap(schema));
  if (def.type === 'enum') return `one of ${Object.values(def.entries ?? {}).join(', ')}`;
  if (def.type === 'array') return `list of ${def.element ? typeOf(def.element) : 'values'}`;
  if (def.type === 'record') return 'JSON object';
  if (def.type === 'union') return 'see the settings below';
  return def.type;
}

function valueAt(object: unknown, path: readonly string[]): unknown {
  let node = object;
  for (const key of path) node = (node as Record<string, unknown> | undefined)?.[key];
  return node;
}

function shown(value: unknown): string {
  if (value === undefined) return '—';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : `\`${text}\``;
}

/** One markdown row per leaf setting of `schema`: path, flag, environment variable, type, default. */
function rows(schema: z.ZodType, envPrefix: string, defaults: unknown, path: string[] = []): string[] {
  const out: string[] = [];
  for (const [key, child] of Object.entries(defOf(unwrap(schema)).shape ?? {})) {
    const at = [...path, key];
    if (defOf(unwrap(child)).type === 'object') {
      out.push(...rows(child, envPrefix, defaults, at));
      continue;
    }
    const flag = `--${at.map(kebab).join('.')}`;
    const env = `${envPrefix}${at.map(snake).join('__')}`;
    out.push(
      `| \`${at.join('.')}\` | \`${flag}\` | \`${env}\` | ${typeOf(child)} | ${shown(valueAt(defaults, at))} |`,
    );
  }
  return out;
}

function table(title: string, schema: z.ZodType, envPrefix: string, defaults: unknown): string {
  const head = ['| setting | flag | environment | type | default |', '|---|---|---|---|---|'];
  return `## ${title}\n\n${[...head, ...rows(schema, envPrefix, defaults)].join('\n')}\n`;
}

/**
 * docs/configuration-reference.md: every setting of the hub and the agent, walked from their
 * zod schemas (the same ones that parse the configuration), so the reference cannot drift.
 */
export function renderConfigReference(): string {
  const hubDefaults = HubConfigSchema.parse({});
  const agentDefaults = AgentConfigSchema.parse({ deviceId: 'device-id', deviceSecret: 'x'.repeat(32) });
  return [
    '# Configuration reference',
    '',
    'Generated from the configuration schemas (`hub/config.ts`, `agent/config.ts`) by',
    '`npm run docs:config`; a test fails when it drifts. What the settings mean, and how files,',
    'environment and flags combine, is in [configuration](configuration.md).',
    '',
    table('Hub (`outpost hub`)', HubConfigSchema, 'OUTPOST_HUB_', hubDefaults),
    table('Agent (`outpost agent`)', AgentConfigSchema, 'OUTPOST_AGENT_', agentDefaults),
  ].join('\n');
}
