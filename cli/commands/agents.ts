import { createReadStream, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConfigObject, parsePlatform } from '../../shared/index.js';
import { buildAgentBundle } from '../agent-bundle.js';
import { HUB_CLIENT_HELP, hubEndpoint } from '../client-settings.js';
import { countingBody } from '../counting-body.js';
import { CliError, EXIT } from '../exit-codes.js';
import { ago, table } from '../format.js';
import { type HubEndpoint, hubRequest } from '../hub-client.js';
import { createProgress } from '../progress.js';

export const AGENTS_HELP = `outpost agents push BUNDLE|DIR [--deps copy|link] [--platform OS/ARCH/LIBC/ABI] [--sha256 HEX] [--json]
outpost agents bundle DIR --out FILE [--deps copy|link] [--platform OS/ARCH/LIBC/ABI] [--json]
outpost agents list [--json]
outpost agents show VERSION [--json]
outpost agents delete VERSION [--platform OS/ARCH/LIBC/ABI]

Agent releases in the hub's registry (over-the-air agent updates); the admin token is needed.

A release is a bundle: the packed package (npm pack of DIR, the outpost package root with its
built dist/) plus its production dependencies for one platform (os, arch, libc, Node ABI;
default this machine's, where DIR's node_modules were installed), as a gzipped tar. 'push DIR'
builds the bundle and pushes it; 'bundle' only builds it (e.g. on a machine of each platform).
The hub signs its manifest with the registry key, as it signs model manifests, and stores it
content-addressed; build one bundle per platform your devices run. Roll it out with
'outpost rollouts create --agent VERSION'. --deps link makes node_modules a symlink to DIR's
(a bundle that runs only on this machine: tests and demos).
'list' shows every release, its platforms and how many devices report running it.
${HUB_CLIENT_HELP}
Exit codes: 0 done, 1 refused by the hub (e.g. HUB_AGENT_BUNDLE_EXISTS, HUB_AGENT_BUNDLE_INVALID),
2 usage, 3 hub unreachable.

Examples:
  npm ci && npm run build && outpost agents push .
  outpost agents bundle /usr/lib/node_modules/outpost --out outpost-agent-0.2.0-arm64.tgz
  outpost agents push outpost-agent-0.2.0-arm64.tgz
  outpost rollouts create --agent 0.2.0 --stages 5,50,100 --bake 30m --gate "online_s<=120"`;

interface BundleView {
  version: string;
  platform: string;
  sha256: string;
  size: number;
  keyId: string;
  createdAt: number;
}
interface ReleaseView {
  version: string;
  createdAt: number;
  bundles: BundleView[];
  devices: number;
}

const endpoint = (flags: ConfigObject): HubEndpoint => hubEndpoint(flags);

function bundleFlags(flags: ConfigObject) {
  const deps = flags.deps === undefined ? 'copy' : String(flags.deps);
  if (deps !== 'copy' && deps !== 'link') throw new CliError('--deps must be copy or link', EXIT.USAGE);
  let platform: ReturnType<typeof parsePlatform> | undefined;
  if (flags.platform !== undefined) {
    try {
      platform = parsePlatform(String(flags.platform));
    } catch (err) {
      throw new CliError(`--platform: ${(err as Error).message}`, EXIT.USAGE);
    }
  }
  return { deps: deps as 'copy' | 'link', ...(platform ? { platform } : {}) };
}

async function build(dir: string, out: string, flags: ConfigObject) {
  try {
    return await buildAgentBundle({ packageDir: dir, out, ...bundleFlags(flags) });
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot build a bundle of ${dir}: ${(err as Error).message}`, EXIT.USAGE);
  }
}

async function upload(hub: HubEndpoint, file: string, flags: ConfigObject): Promise<BundleView> {
  const size = statSync(file).size;
  const query = new URLSearchParams();
  if (flags.sha256 !== undefined) query.set('sha256', String(flags.sha256));
  const bar = createProgress(`push ${file}`, {
    unit: 'bytes',
    ...(flags.json === true ? { enabled: false } : {}),
  });
  bar.update(0, size);
  let res: Response;
  try {
    res = await fetch(new URL(`/v1/agents/releases?${query}`, hub.url), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${hub.token}`,
        'content-type': 'application/octet-stream',
        'content-length': String(size),
      },
      body: countingBody(createReadStream(file), (sent) =>
        bar.update(sent, size),
      ) as unknown as RequestInit['body'],
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
    ? (JSON.parse(text) as BundleView & { error?: { code: string; message: string } })
    : undefined;
  if (!res.ok)
    throw new CliError(
      `hub refused the push: ${json?.error?.code ?? res.status} ${json?.error?.message ?? text}`,
    );
  return json as BundleView;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** `outpost agents push|bundle|list|show|delete`. */
export async function runAgentsCommand(positionals: string[], flags: ConfigObject): Promise<void> {
  const [action, arg] = positionals;
  const json = flags.json === true;
  const out = (value: unknown, text: string) => console.log(json ? JSON.stringify(value) : text);
  switch (action) {
    case 'bundle': {
      if (!arg) throw new CliError(`agents bundle needs a DIR\n\n${AGENTS_HELP}`, EXIT.USAGE);
      if (typeof flags.out !== 'string') throw new CliError('agents bundle needs --out FILE', EXIT.USAGE);
      const b = await build(arg, flags.out, flags);
      out(
        b,
        `wrote ${b.file}: agent ${b.info.version} for ${Object.values(b.info.platform).join('/')}, ${mib(b.size)}, sha256 ${b.sha256}`,
      );
      return;
    }
    case 'push': {
      if (!arg) throw new CliError(`agents push needs a BUNDLE or DIR\n\n${AGENTS_HELP}`, EXIT.USAGE);
      let isDir: boolean;
      try {
        isDir = statSync(arg).isDirectory();
      } catch (err) {
        throw new CliError(`cannot read ${arg}: ${(err as Error).message}`, EXIT.USAGE);
      }
      const hub = endpoint(flags);
      let file = arg;
      let tmp: string | undefined;
      try {
        if (isDir) {
          tmp = await mkdtemp(join(tmpdir(), 'outpost-agents-'));
          file = (await build(arg, join(tmp, 'bundle.tgz'), flags)).file;
        }
        const view = await upload(hub, file, flags);
        out(
          view,
          `pushed agent ${view.version} for ${view.platform} (${mib(view.size)}, sha256 ${view.sha256}, key ${view.keyId})`,
        );
      } finally {
        if (tmp) await rm(tmp, { recursive: true, force: true });
      }
      return;
    }
    case 'list': {
      const { releases } = await hubRequest<{ releases: ReleaseView[] }>(
        endpoint(flags),
        'GET',
        '/v1/agents/releases',
      );
      out(
        { releases },
        releases.length === 0
          ? '(no agent releases: outpost agents push DIR)'
          : table(
              ['VERSION', 'PLATFORMS', 'SIZE', 'DEVICES', 'CREATED'],
              releases.map((r) => [
                r.version,
                r.bundles.map((b) => b.platform).join(' '),
                r.bundles.map((b) => mib(b.size)).join(' '),
                String(r.devices),
                ago(r.createdAt),
              ]),
            ),
      );
      return;
    }
    case 'show': {
      if (!arg) throw new CliError(`agents show needs a VERSION\n\n${AGENTS_HELP}`, EXIT.USAGE);
      const r = await hubRequest<ReleaseView>(
        endpoint(flags),
        'GET',
        `/v1/agents/releases/${encodeURIComponent(arg)}`,
      );
      out(
        r,
        [
          `agent ${r.version}  created ${ago(r.createdAt)}  running on ${r.devices} device(s)`,
          table(
            ['PLATFORM', 'BYTES', 'SHA256', 'KEY'],
            r.bundles.map((b) => [b.platform, String(b.size), b.sha256, b.keyId]),
          ),
        ].join('\n'),
      );
      return;
    }
    case 'delete': {
      if (!arg) throw new CliError(`agents delete needs a VERSION\n\n${AGENTS_HELP}`, EXIT.USAGE);
      const query =
        flags.platform === undefined ? '' : `?platform=${encodeURIComponent(String(flags.platform))}`;
      await hubRequest(endpoint(flags), 'DELETE', `/v1/agents/releases/${encodeURIComponent(arg)}${query}`);
      out({ deleted: { version: arg } }, `deleted agent ${arg}`);
      return;
    }
    default:
      throw new CliError(
        `unknown agents action ${JSON.stringify(action ?? '')}\n\n${AGENTS_HELP}`,
        EXIT.USAGE,
      );
  }
}
