import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ConfigObject, decodeJoinToken, type JoinToken } from '../../shared/index.js';
import { CliError, EXIT } from '../exit-codes.js';

export const AGENT_JOIN_HELP = `outpost agent join TOKEN [--data-dir DIR] [--force]

Writes the agent's config from a join token (printed by 'outpost devices add ID'):
DIR/agent.json (mode 0600) with the device id and secret, the hub's public MQTT and HTTP
URLs and its model-signing keys, and DIR/hub-ca.pem when the hub uses TLS. Then
'outpost agent' (or 'outpost agent --data-dir DIR') runs with no other flag: it reads
DIR/agent.json when no --config is given. DIR defaults to ./outpost-agent-data.
--force replaces an existing DIR/agent.json.

Examples:
  outpost agent join outpost-join-1.eyJ2Ijo...
  outpost agent join "$(cat token.txt)" --data-dir /var/lib/outpost-agent`;

/** The agent's default data dir, as in its config schema. */
export const DEFAULT_AGENT_DATA_DIR = './outpost-agent-data';
/** Name of the config file `agent join` writes in the data dir and `outpost agent` reads. */
export const AGENT_CONFIG_FILE = 'agent.json';

/** The agent config (JSON) a join token stands for, with absolute paths under `dataDir`. */
export function agentConfigFromToken(token: JoinToken, dataDir: string): ConfigObject {
  const dir = resolve(dataDir);
  return {
    deviceId: token.deviceId,
    deviceSecret: token.deviceSecret,
    dataDir: dir,
    hub: { mqttUrl: token.mqttUrl },
    delivery: { trustedKeys: token.trustedKeys, hubHttpUrl: token.httpUrl },
    inference: { hubHttpUrl: token.httpUrl },
    ...(token.caPem === undefined ? {} : { tls: { caFile: join(dir, 'hub-ca.pem') } }),
    ...(token.linkQos === undefined ? {} : { link: { qos: token.linkQos } }),
  };
}

/** Writes `dataDir/agent.json` (0600) and the hub CA from `tokenText`; returns the config path. */
export function writeJoinedConfig(tokenText: string, dataDir: string, force = false): string {
  let token: JoinToken;
  try {
    token = decodeJoinToken(tokenText);
  } catch (err) {
    throw new CliError((err as Error).message, EXIT.USAGE);
  }
  const dir = resolve(dataDir);
  const file = join(dir, AGENT_CONFIG_FILE);
  if (existsSync(file) && !force)
    throw new CliError(`${file} exists already (--force replaces it)`, EXIT.USAGE);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (token.caPem !== undefined) writeFileSync(join(dir, 'hub-ca.pem'), token.caPem, { mode: 0o644 });
  writeFileSync(file, `${JSON.stringify(agentConfigFromToken(token, dir), null, 2)}\n`, { mode: 0o600 });
  // `mode` applies only when the file is created: a replaced file gets it here.
  chmodSync(file, 0o600);
  return file;
}

/** `outpost agent join TOKEN`. */
export function runAgentJoinCommand(positionals: string[], flags: ConfigObject): void {
  const token = positionals[1];
  if (token === undefined) throw new CliError(`agent join needs a TOKEN\n\n${AGENT_JOIN_HELP}`, EXIT.USAGE);
  const dataDir = typeof flags.dataDir === 'string' ? flags.dataDir : DEFAULT_AGENT_DATA_DIR;
  const file = writeJoinedConfig(token, dataDir, flags.force === true);
  console.log(
    `outpost agent join: wrote ${file}; start the agent with: outpost agent --data-dir ${resolve(dataDir)}`,
  );
}

/**
 * The config file `outpost agent` reads when no --config is given: DATA_DIR/agent.json when it
 * exists (DATA_DIR from --data-dir, env OUTPOST_AGENT_DATA_DIR or the default).
 */
export function joinedConfigPath(
  flags: ConfigObject,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  const dataDir =
    typeof flags.dataDir === 'string'
      ? flags.dataDir
      : (env.OUTPOST_AGENT_DATA_DIR ?? DEFAULT_AGENT_DATA_DIR);
  const file = join(resolve(dataDir), AGENT_CONFIG_FILE);
  return existsSync(file) ? file : undefined;
}
