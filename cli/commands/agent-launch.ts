import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { AGENT_VERSION, startLauncher, trustedKeysOf, updateDir } from '../../agent/index.js';
import type { ConfigObject } from '../../shared/index.js';
import { lockDataDir } from '../data-dir-lock.js';
import { loadAgentConfig } from './agent.js';

/**
 * `outpost agent launch`: the process the systemd unit runs (docs/agent-updates.md). It takes
 * the agent's own options, runs the agent from the current install slot with them, and
 * installs the releases the agent hands it. SIGTERM stops the agent (it drains and closes its
 * store), then the launcher.
 */
export async function runAgentLaunchCommand(flags: ConfigObject, argv: readonly string[]): Promise<void> {
  const { json: _json, ...settings } = flags;
  const config = loadAgentConfig(settings);
  // One launcher per data dir (the agent it starts locks the data dir itself).
  lockDataDir(updateDir(config.dataDir), `outpost agent launch ${config.deviceId}`);
  const log = pino({ name: 'outpost-launcher', level: config.logLevel }).child({ deviceId: config.deviceId });
  // Run from source (tsx: the demo's test) the base release is main.ts, started with the
  // launcher's own node flags (`--import tsx`), which the launcher passes on.
  const main = fileURLToPath(
    new URL(import.meta.url.endsWith('.ts') ? '../main.ts' : '../main.js', import.meta.url),
  );
  const { launcher } = startLauncher({
    dataDir: config.dataDir,
    trustedKeys: trustedKeysOf(config.delivery),
    confirmMs: config.update.confirmTimeoutMs,
    base: { version: AGENT_VERSION, main },
    // The agent takes the launcher's own arguments: `agent launch …` → `agent …`.
    agentArgs: ['agent', ...argv.filter((_, i) => i !== argv.indexOf('launch'))],
    log,
    // An agent's `ready` announcement goes to whoever started the launcher (the demo, tests).
    onMessage: (message) => process.send?.(message as object),
  });
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    launcher.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping the agent');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  log.info({ dataDir: config.dataDir, slots: updateDir(config.dataDir) }, 'launcher started');
}
