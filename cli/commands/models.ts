import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConfigObject } from '../../shared/index.js';
import { agentUrl, CLIENT_ENV, DEFAULT_AGENT_URL } from '../client-settings.js';
import { CliError, EXIT } from '../exit-codes.js';
import { table } from '../format.js';
import { terminalSafe } from '../terminal-text.js';
import { isRegistryAction, MODELS_REGISTRY_HELP, runRegistryCommand } from './models-registry.js';
import { QUANTIZE_HELP, runQuantizeCommand } from './quantize.js';

export const MODELS_HELP = `outpost models install FILE --name NAME --version X.Y.Z [--precision fp32|fp16|int8]
                      [--sha256 HEX] [--manifest manifest.json] [--reference reference.json]
                      [--sample sample.json] [--no-activate]
outpost models list [--json]
outpost models activate NAME VERSION [--precision P]
outpost models infer NAME --inputs inputs.json [--json]
outpost models quantize IN.onnx --int8 | --fp16 -o OUT.onnx   (local, no agent; see below)

Talks to a running agent's local API: --agent URL (env ${CLIENT_ENV.agentUrl}, default
${DEFAULT_AGENT_URL}). FILE is an .onnx file or a TF.js model.json (shards beside it); the
agent reads it, checks --sha256 or the manifest against it, stores it and activates it on the
first engine of its firmware profile that is admitted. inputs.json holds
{"x": {"dtype": "float32", "dims": [1, 4], "data": [...]}, ...}; --sample takes a file in the
same format: inputs the engines are warmed up on when there is no reference (otherwise they
are warmed up on inputs made from the model's metadata; see docs/models.md).

Examples:
  outpost models install ./digits.onnx --name digits --version 1.0.0
  outpost models install ./web/model.json --name faces --version 2.1.0 --sha256 3f2a...
  outpost models infer digits --inputs ./one-digit.json --json
  outpost models quantize ./digits.onnx --int8 -o ./digits.int8.onnx --inputs ./digits-set.json

${QUANTIZE_HELP}

${MODELS_REGISTRY_HELP}`;

interface Listing {
  name: string;
  active: {
    version: string;
    precision: string;
    engine: string | null;
    rejected: Array<{ engine: string; stage: string; reason: string }>;
    warmup?: { source: string; label?: string; reason?: string };
  } | null;
  installed: Array<{ version: string; precision: string }>;
  policy: { upload: string };
}

export async function agentRequest<T>(
  flags: ConfigObject,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const base = agentUrl(flags);
  let res: Response;
  try {
    res = await fetch(new URL(path, base), {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new CliError(`cannot reach the agent at ${base}: ${cause}`, EXIT.UNREACHABLE);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text.length ? JSON.parse(text) : undefined;
  } catch {
    throw new CliError(`agent answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
  if (!res.ok) {
    const error = (json as { error?: { code?: string; message?: string; details?: unknown } } | undefined)
      ?.error;
    const details = error?.details ? `\n${JSON.stringify(error.details, null, 2)}` : '';
    throw new CliError(
      `agent refused ${method} ${path}: ${error?.code ?? res.status} ${error?.message ?? text}${details}`,
    );
  }
  return json as T;
}

function readJson(flag: string, path: unknown): unknown {
  if (typeof path !== 'string') throw new CliError(`--${flag} needs a file path`, EXIT.USAGE);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new CliError(`--${flag} ${path}: ${(err as Error).message}`, EXIT.USAGE);
  }
}

function describe(m: Listing): string {
  if (!m.active)
    return `${m.name}: installed ${m.installed.map((i) => `${i.version}/${i.precision}`).join(', ')}, none active`;
  const rejected = m.active.rejected.map(
    (r) => `  rejected ${r.engine} (${r.stage}): ${r.reason.split('\n')[0]}`,
  );
  const { warmup } = m.active;
  const warmed = warmup
    ? [
        warmup.source === 'none'
          ? `  not warmed up: ${(warmup.reason ?? '').split('\n')[0]}`
          : `  warmed up on ${warmup.source} inputs${warmup.label ? ` (${warmup.label})` : ''}`,
      ]
    : [];
  return [
    `${m.name} ${m.active.version}/${m.active.precision} on ${m.active.engine ?? 'no engine'}`,
    ...warmed,
    ...rejected,
  ].join('\n');
}

/** `outpost models install|list|activate|infer` against the agent's local API; registry actions against the hub. */
export async function runModelsCommand(positionals: string[], flags: ConfigObject): Promise<void> {
  const [action, ...args] = positionals;
  const json = flags.json === true;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  if (action === 'quantize') return runQuantizeCommand(args, flags);
  if (isRegistryAction(action, flags)) return runRegistryCommand(action as string, args, flags);
  if (action === 'install') {
    const file = args[0];
    if (!file) throw new CliError(`models install needs a FILE\n\n${MODELS_HELP}`, EXIT.USAGE);
    const body = {
      file: resolve(file),
      ...(str(flags.name) ? { name: str(flags.name) } : {}),
      ...(flags.version !== undefined ? { version: String(flags.version) } : {}),
      ...(str(flags.precision) ? { precision: str(flags.precision) } : {}),
      ...(str(flags.sha256) ? { sha256: str(flags.sha256) } : {}),
      ...(flags.manifest !== undefined ? { manifest: readJson('manifest', flags.manifest) } : {}),
      ...(flags.reference !== undefined ? { reference: readJson('reference', flags.reference) } : {}),
      ...(flags.sample !== undefined ? { samples: readJson('sample', flags.sample) } : {}),
      ...(flags.noActivate === true ? { activate: false } : {}),
    };
    const listing = await agentRequest<Listing>(flags, 'POST', '/v1/models', body);
    console.log(json ? JSON.stringify(listing) : terminalSafe(describe(listing)));
    return;
  }
  if (action === 'list') {
    const { models } = await agentRequest<{ models: Listing[] }>(flags, 'GET', '/v1/models');
    if (json) {
      console.log(JSON.stringify({ models }));
      return;
    }
    const rows = models.map((m) => [
      m.name,
      m.active ? `${m.active.version}/${m.active.precision}` : '-',
      m.active?.engine ?? '-',
      String(m.active?.rejected.length ?? 0),
      m.installed.map((i) => `${i.version}/${i.precision}`).join(' '),
      m.policy.upload,
      m.active?.warmup?.source ?? '-',
    ]);
    console.log(table(['NAME', 'ACTIVE', 'ENGINE', 'REJECTED', 'INSTALLED', 'UPLOAD', 'WARMUP'], rows));
    return;
  }
  if (action === 'activate') {
    const [name, version] = args;
    if (!name || !version)
      throw new CliError(`models activate needs NAME VERSION\n\n${MODELS_HELP}`, EXIT.USAGE);
    const body = { version, ...(str(flags.precision) ? { precision: str(flags.precision) } : {}) };
    const listing = await agentRequest<Listing>(
      flags,
      'POST',
      `/v1/models/${encodeURIComponent(name)}/activate`,
      body,
    );
    console.log(json ? JSON.stringify(listing) : terminalSafe(describe(listing)));
    return;
  }
  if (action === 'infer') {
    const [name] = args;
    if (!name) throw new CliError(`models infer needs NAME\n\n${MODELS_HELP}`, EXIT.USAGE);
    const inputs = readJson('inputs', flags.inputs);
    const result = await agentRequest<unknown>(
      flags,
      'POST',
      `/v1/models/${encodeURIComponent(name)}/infer`,
      { inputs },
    );
    console.log(JSON.stringify(result, null, json ? undefined : 2));
    return;
  }
  throw new CliError(`unknown models action ${JSON.stringify(action ?? '')}\n\n${MODELS_HELP}`, EXIT.USAGE);
}
