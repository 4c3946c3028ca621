import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ConfigObject, decodeJoinToken, type JoinToken } from '../../shared/index.js';
import { CliError, EXIT } from '../exit-codes.js';
import { ensureServiceUser } from '../service-user.js';
import { writeJoinedConfig } from './agent-join.js';

export const AGENT_INSTALL_HELP = `outpost agent install --join TOKEN [--user USER] [--data-dir DIR] [--dry-run] ...
outpost agent install --device-id ID [--hub-mqtt-url URL] [--user USER] [--group GROUP]
                      [--data-dir DIR] [--environment-file FILE] [--unit-dir DIR] [--unit-name NAME]
                      [--node PATH] [--main PATH] [--dry-run] [--json]

Writes a systemd unit for the agent and an env file (mode 0600) with its settings, and creates
the service user when it does not exist (a system user, no login). The unit runs
'outpost agent launch': the launcher, which runs the agent and installs the agent releases the
hub rolls out (over-the-air updates, kept under DATA_DIR/update). With --join TOKEN (from
'outpost devices add') the whole agent config goes to DATA_DIR/agent.json (mode 0600, owned by
the user), as 'outpost agent join' writes it. Without it the device secret is read from env
OUTPOST_AGENT_DEVICE_SECRET (never a flag, ps shows flags) and written to the env file only.
A unit without credentials (no token, no secret) is refused, except with --dry-run.
Then: systemctl daemon-reload && systemctl enable --now NAME.

Defaults: --user outpost, --group = user, --data-dir /var/lib/outpost-agent,
  --environment-file /etc/outpost/agent.env, --unit-dir /etc/systemd/system, --unit-name outpost-agent,
  --node this node binary, --main this outpost's dist/cli/main.js,
  --hub-mqtt-url mqtt://127.0.0.1:1883.
--dry-run prints the unit and the env file (secret masked) and writes nothing.

Examples:
  sudo outpost agent install --join outpost-join-1.eyJ2Ijo...
  sudo OUTPOST_AGENT_DEVICE_SECRET=... outpost agent install --device-id jetson-01 --hub-mqtt-url mqtts://hub.example:8883
  outpost agent install --device-id pi-07 --user pi --dry-run`;

/** What goes into the unit and env file; every path absolute. */
export interface AgentInstallOptions {
  deviceId: string;
  /** Empty when not given: the env file then lacks it and the agent refuses to start. */
  deviceSecret: string;
  hubMqttUrl: string;
  user: string;
  group: string;
  dataDir: string;
  envFile: string;
  unitDir: string;
  unitName: string;
  nodePath: string;
  mainPath: string;
  /** The join token's contents when installed with --join; the config is then DATA_DIR/agent.json. */
  join?: { text: string; token: JoinToken };
}

const NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

function str(flags: ConfigObject, key: string, fallback: string): string {
  const value = flags[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '')
    throw new CliError(`--${kebab(key)} needs a value`, EXIT.USAGE);
  return value;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Reads and checks the install options; every problem is a usage error naming the flag. */
export function agentInstallOptions(
  flags: ConfigObject,
  env: Readonly<Record<string, string | undefined>> = process.env,
): AgentInstallOptions {
  let join: AgentInstallOptions['join'];
  if (flags.join !== undefined) {
    const text = str(flags, 'join', '');
    try {
      join = { text, token: decodeJoinToken(text) };
    } catch (err) {
      throw new CliError(`--join: ${(err as Error).message}`, EXIT.USAGE);
    }
    if (flags.deviceId !== undefined && flags.deviceId !== join.token.deviceId)
      throw new CliError(`--device-id differs from the join token's ${join.token.deviceId}`, EXIT.USAGE);
  }
  const deviceId = join ? join.token.deviceId : str(flags, 'deviceId', '');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(deviceId))
    throw new CliError('--device-id is required: 1-64 of [A-Za-z0-9._-]', EXIT.USAGE);
  const user = str(flags, 'user', 'outpost');
  const group = str(flags, 'group', user);
  for (const [flag, value] of [
    ['user', user],
    ['group', group],
  ] as const)
    if (!NAME.test(value))
      throw new CliError(`--${flag} ${JSON.stringify(value)} is not a valid name`, EXIT.USAGE);
  const unitName = str(flags, 'unitName', 'outpost-agent');
  if (!/^[A-Za-z0-9:_.-]+$/.test(unitName))
    throw new CliError(`--unit-name ${JSON.stringify(unitName)} has characters systemd refuses`, EXIT.USAGE);
  const hubMqttUrl = join ? join.token.mqttUrl : str(flags, 'hubMqttUrl', 'mqtt://127.0.0.1:1883');
  if (!/^(mqtts?|wss?):\/\/\S+$/.test(hubMqttUrl))
    throw new CliError('--hub-mqtt-url must be an mqtt://, mqtts://, ws:// or wss:// URL', EXIT.USAGE);
  const here = dirname(fileURLToPath(import.meta.url));
  const paths = {
    dataDir: str(flags, 'dataDir', '/var/lib/outpost-agent'),
    envFile: str(flags, 'environmentFile', '/etc/outpost/agent.env'),
    unitDir: str(flags, 'unitDir', '/etc/systemd/system'),
    nodePath: str(flags, 'node', process.execPath),
    // dist/cli/commands/agent-install.js → dist/cli/main.js
    mainPath: str(flags, 'main', resolve(here, '..', 'main.js')),
  };
  const flagOf: Record<keyof typeof paths, string> = {
    dataDir: '--data-dir',
    envFile: '--environment-file',
    unitDir: '--unit-dir',
    nodePath: '--node',
    mainPath: '--main',
  };
  for (const [key, value] of Object.entries(paths) as [keyof typeof paths, string][]) {
    if (!isAbsolute(value)) throw new CliError(`${flagOf[key]} must be an absolute path`, EXIT.USAGE);
    if (/[\s"'\\%$]/.test(value))
      throw new CliError(`${flagOf[key]} ${JSON.stringify(value)}: no spaces, quotes, % or $`, EXIT.USAGE);
  }
  if (paths.mainPath.endsWith('.ts'))
    throw new CliError('--main must be the built dist/cli/main.js (run npm run build)', EXIT.USAGE);
  const deviceSecret = join ? join.token.deviceSecret : (env.OUTPOST_AGENT_DEVICE_SECRET ?? '');
  if (deviceSecret !== '' && deviceSecret.length < 16)
    throw new CliError('OUTPOST_AGENT_DEVICE_SECRET must be at least 16 characters', EXIT.USAGE);
  return { deviceId, deviceSecret, hubMqttUrl, user, group, unitName, ...paths, ...(join ? { join } : {}) };
}

/** The systemd unit: restart on failure, hardened, writable only in the data directory. */
export function renderAgentUnit(o: AgentInstallOptions): string {
  return `# Written by 'outpost agent install'. Settings: ${o.envFile}
[Unit]
Description=Outpost edge ML agent (${o.deviceId})
Documentation=https://github.com/outpost/outpost#packaging
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
User=${o.user}
Group=${o.group}
EnvironmentFile=${o.envFile}
# The launcher runs the agent from one of two install slots under the data dir and installs
# the releases the hub rolls out over the air (docs/agent-updates.md).
ExecStart=${o.nodePath} ${o.mainPath} agent launch
Restart=on-failure
RestartSec=5
# SIGTERM to the launcher only: it stops the agent (which drains the outbox and closes the
# store), then exits; whatever is left after TimeoutStopSec is killed.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec=45
StateDirectory=${o.dataDir.startsWith('/var/lib/') ? o.dataDir.slice('/var/lib/'.length) : ''}
ReadWritePaths=${o.dataDir}
NoNewPrivileges=true
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=true
ProtectKernelTunables=true
ProtectControlGroups=true
RestrictSUIDSGID=true
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`.replace(/^StateDirectory=\n/m, '');
}

/** The env file; `maskSecret` replaces the secret for printing. */
export function renderAgentEnv(o: AgentInstallOptions, maskSecret: boolean): string {
  if (o.join)
    return [
      `# Outpost agent settings (OUTPOST_AGENT_*, __ nests); see 'outpost agent --help'.`,
      `# The agent's config (device id and secret, hub URLs, keys) is ${join(o.dataDir, 'agent.json')}.`,
      `OUTPOST_AGENT_DATA_DIR=${o.dataDir}`,
      'NODE_ENV=production',
      '',
    ].join('\n');
  const secret = o.deviceSecret === '' ? '' : maskSecret ? '********' : o.deviceSecret;
  return [
    `# Outpost agent settings (OUTPOST_AGENT_*, __ nests); see 'outpost agent --help'.`,
    `OUTPOST_AGENT_DEVICE_ID=${o.deviceId}`,
    secret === ''
      ? '# OUTPOST_AGENT_DEVICE_SECRET=  (required: the secret from `outpost devices add`)'
      : `OUTPOST_AGENT_DEVICE_SECRET=${secret}`,
    `OUTPOST_AGENT_HUB__MQTT_URL=${o.hubMqttUrl}`,
    `OUTPOST_AGENT_DATA_DIR=${o.dataDir}`,
    'NODE_ENV=production',
    '',
  ].join('\n');
}

/** Numeric ids of `user` (per `id`). */
function userIds(user: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/** `outpost agent install`: writes (or with --dry-run prints) the unit and env file. */
export function runAgentInstallCommand(flags: ConfigObject): void {
  const o = agentInstallOptions(flags);
  const unitPath = join(o.unitDir, `${o.unitName}.service`);
  const dryRun = flags.dryRun === true;
  const unit = renderAgentUnit(o);
  if (dryRun) {
    if (flags.json === true)
      console.log(JSON.stringify({ unitPath, unit, envFile: o.envFile, env: renderAgentEnv(o, true) }));
    else console.log(`# ${unitPath}\n${unit}\n# ${o.envFile} (mode 0600)\n${renderAgentEnv(o, true)}`);
    return;
  }
  if (!existsSync(o.mainPath)) throw new CliError(`--main ${o.mainPath} does not exist`, EXIT.USAGE);
  if (o.deviceSecret === '')
    throw new CliError(
      'no device credentials: pass --join TOKEN (from outpost devices add) or env OUTPOST_AGENT_DEVICE_SECRET; no unit written',
      EXIT.USAGE,
    );
  const createdUser = ensureServiceUser(o.user, o.group);
  if (o.join) {
    const file = writeJoinedConfig(o.join.text, o.dataDir, true);
    try {
      chownSync(o.dataDir, userIds(o.user).uid, userIds(o.user).gid);
      chownSync(file, userIds(o.user).uid, userIds(o.user).gid);
    } catch (err) {
      throw new CliError(`cannot give ${o.dataDir} to ${o.user}: ${(err as Error).message}`, EXIT.FAILED);
    }
  }
  try {
    mkdirSync(o.unitDir, { recursive: true });
    mkdirSync(dirname(o.envFile), { recursive: true });
    writeFileSync(unitPath, unit, { mode: 0o644 });
    writeFileSync(o.envFile, renderAgentEnv(o, false), { mode: 0o600 });
    chmodSync(o.envFile, 0o600);
  } catch (err) {
    throw new CliError(`cannot write the unit: ${(err as Error).message} (run as root?)`, EXIT.FAILED);
  }
  const next = `systemctl daemon-reload && systemctl enable --now ${o.unitName}`;
  if (flags.json === true) console.log(JSON.stringify({ unitPath, envFile: o.envFile, next }));
  else
    console.log(
      `${createdUser ? `created user ${o.user}\n` : ''}${o.join ? `wrote ${join(o.dataDir, 'agent.json')} (mode 0600)\n` : ''}wrote ${unitPath}\nwrote ${o.envFile} (mode 0600)\nnext: ${next}`,
    );
}
