import type { ConfigObject } from '../../shared/index.js';
import { CLIENT_ENV, DEFAULT_HUB_URL } from '../client-settings.js';
import { CliError, EXIT } from '../exit-codes.js';

export const HUB_READY_HELP = `outpost hub ready [--hub URL] [--wait SECONDS]

Asks a hub's /readyz (no token needed; --hub URL, env ${CLIENT_ENV.hubUrl}, default
${DEFAULT_HUB_URL}) whether its store and broker are ready; with --wait, keeps asking for up to
SECONDS. Exit 0 when ready, 3 when not (yet). For scripts that start a hub and then use it.

Example:
  outpost hub --data-dir ./hub-data & outpost hub ready --wait 60 && cat ./hub-data/admin-token`;

async function readyOnce(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(new URL('/readyz', url));
    const body = (await res.json()) as { ready?: boolean; store?: boolean; broker?: boolean };
    if (res.ok && body.ready === true) return undefined;
    return `not ready (store ${body.store ? 'ok' : 'not ready'}, broker ${body.broker ? 'ok' : 'not ready'})`;
  } catch (err) {
    return `unreachable: ${(err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message}`;
  }
}

/** `outpost hub ready`: exit 0 once the hub's /readyz says ready, 3 otherwise. */
export async function runHubReadyCommand(flags: ConfigObject): Promise<void> {
  const url = (flags.hub as string | undefined) ?? process.env[CLIENT_ENV.hubUrl] ?? DEFAULT_HUB_URL;
  const wait = flags.wait === undefined ? 0 : Number(flags.wait);
  if (!Number.isFinite(wait) || wait < 0)
    throw new CliError('--wait must be a number of seconds', EXIT.USAGE);
  const deadline = Date.now() + wait * 1000;
  for (;;) {
    const problem = await readyOnce(url);
    if (problem === undefined) {
      console.log(`hub at ${url} is ready`);
      return;
    }
    if (Date.now() >= deadline) throw new CliError(`hub at ${url} ${problem}`, EXIT.UNREACHABLE);
    await new Promise((r) => setTimeout(r, 250));
  }
}
