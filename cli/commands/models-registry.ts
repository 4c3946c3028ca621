import { createReadStream, readFileSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { packTfjsBundle, readModelSource } from '../../inference/index.js';
import type { ConfigObject } from '../../shared/index.js';
import { HUB_CLIENT_HELP, hubEndpoint } from '../client-settings.js';
import { countingBody } from '../counting-body.js';
import { CliError, EXIT } from '../exit-codes.js';
import { ago, table } from '../format.js';
import { type HubEndpoint, hubRequest } from '../hub-client.js';
import { createProgress } from '../progress.js';

export const MODELS_REGISTRY_HELP = `The hub's registry, admin token needed:
outpost models push FILE --name NAME --version X.Y.Z [--variant fp32|fp16|int8] [--parent X.Y.Z]
                    [--source TEXT] [--round N] [--sample sample.json] [--json]
outpost models list --registry [NAME] [--json]     (without --registry/--hub: the agent's models)
outpost models show NAME VERSION [--json]
outpost models delete NAME VERSION
outpost models keys [--json]                        the hub's public keys, to provision agents
outpost models rotate-key [--json]

FILE is an .onnx file, a TF.js model.json (shards beside it; packed into one bundle), or a
bundle already packed. The hub runs it on its CPU engine, records its signature and a reference
run, signs the manifest and stores the artifact under its SHA-256. --sample takes inputs in the
format of models infer --inputs ({"x": {"dtype", "dims", "data"}, ...}): the hub warms up and
runs its reference on them (for a model that no input made from its metadata runs).
${HUB_CLIENT_HELP}
Exit codes: 0 done, 1 refused by the hub (e.g. HUB_MODEL_EXISTS, HUB_MODEL_IN_USE), 2 usage,
3 hub unreachable.`;

interface VersionView {
  name: string;
  version: string;
  createdAt: number;
  lineage: { parent?: string; source?: string; round?: number };
  variants: Array<{ precision: string; format: string; sha256: string; size: number; keyId: string }>;
}

const endpoint = (flags: ConfigObject): HubEndpoint => hubEndpoint(flags);

/** True when a `models` action targets the hub's registry rather than the local agent. */
export function isRegistryAction(action: string | undefined, flags: ConfigObject): boolean {
  if (
    action === 'push' ||
    action === 'show' ||
    action === 'delete' ||
    action === 'keys' ||
    action === 'rotate-key'
  )
    return true;
  return action === 'list' && (flags.registry === true || flags.hub !== undefined);
}

function describe(v: VersionView): string {
  const lineage = Object.entries(v.lineage)
    .map(([k, val]) => `${k}=${val}`)
    .join(' ');
  const rows = v.variants.map((x) => [x.precision, x.format, String(x.size), x.sha256, x.keyId]);
  return [
    `${v.name} ${v.version}  created ${ago(v.createdAt)}${lineage ? `  lineage ${lineage}` : ''}`,
    table(['VARIANT', 'FORMAT', 'BYTES', 'SHA256', 'KEY'], rows),
  ].join('\n');
}

async function push(file: string, flags: ConfigObject): Promise<VersionView> {
  const hub = endpoint(flags);
  const name = flags.name;
  const version = flags.version === undefined ? undefined : String(flags.version);
  if (typeof name !== 'string' || version === undefined) {
    throw new CliError(`models push needs --name and --version\n\n${MODELS_REGISTRY_HELP}`, EXIT.USAGE);
  }
  const query = new URLSearchParams();
  for (const key of ['variant', 'parent', 'source', 'round'] as const) {
    if (flags[key] !== undefined) query.set(key, String(flags[key]));
  }
  let body: Uint8Array | Readable;
  let size: number;
  let sample: Buffer | undefined;
  try {
    if (flags.sample !== undefined) {
      sample = readFileSync(String(flags.sample));
      JSON.parse(sample.toString('utf8'));
    }
  } catch (err) {
    throw new CliError(`cannot read --sample ${String(flags.sample)}: ${(err as Error).message}`, EXIT.USAGE);
  }
  try {
    if (file.endsWith('.json')) {
      body = packTfjsBundle(await readModelSource(file));
      size = body.byteLength;
    } else {
      size = statSync(file).size;
      body = createReadStream(file);
    }
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, EXIT.USAGE);
  }
  if (sample) {
    // The sample goes first in the body; the query says how many bytes it takes.
    query.set('sampleBytes', String(sample.byteLength));
    const artifact = body;
    const head = sample;
    body = Readable.from(
      (async function* () {
        yield head;
        if (artifact instanceof Uint8Array) yield artifact;
        else yield* artifact;
      })(),
      { objectMode: false },
    );
    size += sample.byteLength;
  }
  const path = `/v1/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}?${query}`;
  // Upload progress in bytes on a TTY stderr, never with --json.
  const bar = createProgress(`push ${name}@${version}`, {
    unit: 'bytes',
    ...(flags.json === true ? { enabled: false } : {}),
  });
  bar.update(0, size);
  let res: Response;
  try {
    res = await fetch(new URL(path, hub.url), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${hub.token}`,
        'content-type': 'application/octet-stream',
        'content-length': String(size),
      },
      body: countingBody(body, (sent) => bar.update(sent, size)) as unknown as RequestInit['body'],
      duplex: 'half',
    } as RequestInit);
  } catch (err) {
    bar.finish();
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new CliError(`cannot reach the hub at ${hub.url}: ${cause}`, EXIT.UNREACHABLE);
  }
  const text = await res.text();
  bar.finish();
  const json = text
    ? (JSON.parse(text) as VersionView & { error?: { code: string; message: string } })
    : undefined;
  if (!res.ok) {
    throw new CliError(
      `hub refused the push: ${json?.error?.code ?? res.status} ${json?.error?.message ?? text}`,
    );
  }
  return json as VersionView;
}

/** `outpost models push|list --registry|show|delete|keys|rotate-key` against the hub's admin API. */
export async function runRegistryCommand(action: string, args: string[], flags: ConfigObject): Promise<void> {
  const json = flags.json === true;
  const out = (value: unknown, text: string) => console.log(json ? JSON.stringify(value) : text);
  if (action === 'push') {
    const [file] = args;
    if (!file) throw new CliError(`models push needs a FILE\n\n${MODELS_REGISTRY_HELP}`, EXIT.USAGE);
    const view = await push(file, flags);
    out(view, describe(view));
    return;
  }
  if (action === 'list') {
    const [name] = args;
    const path = name ? `/v1/models/${encodeURIComponent(name)}` : '/v1/models';
    const { versions } = await hubRequest<{ versions: VersionView[] }>(endpoint(flags), 'GET', path);
    const rows = versions.map((v) => [
      v.name,
      v.version,
      v.variants.map((x) => `${x.precision}/${x.format}`).join(' '),
      v.lineage.parent ?? '',
      ago(v.createdAt),
    ]);
    out({ versions }, table(['NAME', 'VERSION', 'VARIANTS', 'PARENT', 'CREATED'], rows));
    return;
  }
  if (action === 'show' || action === 'delete') {
    const [name, version] = args;
    if (!name || !version)
      throw new CliError(`models ${action} needs NAME VERSION\n\n${MODELS_REGISTRY_HELP}`, EXIT.USAGE);
    const path = `/v1/models/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`;
    if (action === 'delete') {
      await hubRequest(endpoint(flags), 'DELETE', path);
      out({ deleted: { name, version } }, `deleted ${name} ${version}`);
      return;
    }
    const view = await hubRequest<VersionView>(endpoint(flags), 'GET', path);
    out(view, describe(view));
    return;
  }
  if (action === 'keys' || action === 'rotate-key') {
    const keys = await hubRequest<{ current: string; keys: Array<{ keyId: string; publicKeyPem: string }> }>(
      endpoint(flags),
      action === 'keys' ? 'GET' : 'POST',
      action === 'keys' ? '/v1/keys' : '/v1/keys/rotate',
    );
    out(
      keys,
      keys.keys
        .map(
          (k) =>
            `# key ${k.keyId}${k.keyId === keys.current ? ' (current)' : ' (retired)'}\n${k.publicKeyPem.trim()}`,
        )
        .join('\n'),
    );
    return;
  }
  throw new CliError(
    `unknown models action ${JSON.stringify(action)}\n\n${MODELS_REGISTRY_HELP}`,
    EXIT.USAGE,
  );
}
