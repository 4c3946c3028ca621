import { AgentConfigSchema } from '../agent/config.js';
import { SimulateOptionsSchema } from '../federated/simulate/options.js';
import { HubConfigSchema } from '../hub/config.js';
import { type FlagKind, type FlagSpec, flagsOfSchema } from './schema-flags.js';

const flags = (kind: FlagKind, ...names: string[]): FlagSpec[] => names.map((name) => ({ name, kind }));

/** Where client commands find the hub and agent (see client-settings.ts). */
const CLIENT = [...flags('string', 'hub', 'token'), ...flags('boolean', 'json')];

/** Hub and agent flags come from their zod config schemas, so they can never drift. */
const HUB = [...flagsOfSchema(HubConfigSchema), ...flags('string', 'config'), ...flags('boolean', 'json')];
const AGENT = [
  ...flagsOfSchema(AgentConfigSchema),
  ...flags('string', 'config'),
  ...flags('boolean', 'json'),
];

/** The flags each command (or `command subcommand`) accepts; anything else exits 2. */
export const COMMAND_FLAGS: Record<string, readonly FlagSpec[]> = {
  demo: [...flags('string', 'agents', 'events'), ...flags('boolean', 'json', 'keep')],
  hub: [...HUB, ...flags('string', 'broker')],
  'hub broker-config': [...HUB, ...flags('string', 'out', 'listen', 'hub-listen', 'broker', 'nodes')],
  'hub ready': flags('string', 'hub', 'wait'),
  agent: AGENT,
  'agent launch': AGENT,
  'doctor hub': HUB,
  'doctor agent': AGENT,
  'agent status': flags('string', 'agent').concat(flags('boolean', 'json')),
  'agent join': [...flags('string', 'data-dir'), ...flags('boolean', 'force')],
  'agent install': [
    ...flags(
      'string',
      'device-id',
      'hub-mqtt-url',
      'user',
      'group',
      'data-dir',
      'environment-file',
      'unit-dir',
      'unit-name',
      'node',
      'main',
      'join',
    ),
    ...flags('boolean', 'dry-run', 'json'),
  ],
  devices: [
    ...CLIENT,
    ...flags('string', 'name', 'args'),
    ...flags('list', 'label'),
    ...flags('boolean', 'follow', 'purge'),
  ],
  models: [
    ...CLIENT,
    ...flags(
      'string',
      'agent',
      'name',
      'version',
      'precision',
      'sha256',
      'manifest',
      'reference',
      'inputs',
      'variant',
      'parent',
      'source',
      'round',
      'output',
      'mnist',
      'samples',
      'sample',
    ),
    ...flags('boolean', 'no-activate', 'registry', 'int8', 'fp16', 'per-tensor'),
  ],
  agents: [...CLIENT, ...flags('string', 'out', 'platform', 'deps', 'sha256')],
  rollouts: [
    ...CLIENT,
    ...flags(
      'string',
      'agent',
      'model',
      'version',
      'selector',
      'stages',
      'bake',
      'mode',
      'control',
      'split',
      'device-deadline',
      'reason',
    ),
    ...flags('list', 'gate'),
  ],
  fl: [
    ...CLIENT,
    ...flagsOfSchema(SimulateOptionsSchema).map((f): FlagSpec => {
      // `--hidden 200,200` is one comma-separated value; `--stop-at-target` is a switch.
      if (f.name === 'hidden' || f.name === 'strategy-params') return { name: f.name, kind: 'string' };
      if (f.name === 'stop-at-target') return { name: f.name, kind: 'boolean' };
      return f;
    }),
    ...flags(
      'string',
      'model',
      'version',
      'mode',
      'count',
      'min-clients',
      'selector',
      'deadline',
      'grace',
      'buffer-k',
      'max-staleness',
      'clip-norm',
      'compression',
      'topk-fraction',
      'dp-noise',
      'hub-eval',
      'rollout-stages',
      'rollout-bake',
      'trainable-layers',
      'trainable-last',
      'id',
    ),
    ...flags('boolean', 'register'),
  ],
};

/** Short flags per command: `-o FILE` is `--output FILE` (models quantize). */
export const COMMAND_SHORTS: Record<string, Record<string, string>> = { models: { o: 'output' } };
