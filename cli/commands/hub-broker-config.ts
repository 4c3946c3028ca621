import { HUB_ENV_PREFIX, HubConfigSchema, openHubStore, writeBrokerAuth } from '../../hub/index.js';
import type { ConfigObject } from '../../shared/index.js';
import { CliError, EXIT } from '../exit-codes.js';
import { loadConfig } from '../load-config.js';

export const HUB_BROKER_CONFIG_HELP = `outpost hub broker-config --out DIR [--listen HOST:PORT] [--hub-listen HOST:PORT] [hub settings]

Writes an external Mosquitto's (version 2) auth files from the hub's store:
  DIR/passwd          one $7$ (PBKDF2-SHA512) line per enrolled device
  DIR/acl             devices: only their own topics (pattern … %u), nothing else
  DIR/hub-passwd      the hub user
  DIR/hub-acl         the hub user: every device topic and $SYS
  DIR/mosquitto.conf  the devices' listener (--listen, default 0.0.0.0:1883; client id = user name)
                      and the hub's (--hub-listen, default 127.0.0.1:1884); the hub connects there
Reads the same settings as \`outpost hub\` (store.url, broker.username, broker.password, …).
Mosquitto rereads passwd and acl on SIGHUP. With broker.authDir the hub keeps them current itself.

Example:
  OUTPOST_HUB_BROKER__PASSWORD=… outpost hub broker-config --store.url postgres://… --out /etc/mosquitto/outpost`;

/** `outpost hub broker-config --out DIR`. */
export async function runBrokerConfigCommand(flags: ConfigObject): Promise<void> {
  const { out, listen, hubListen, ...rest } = flags;
  if (typeof out !== 'string') throw new CliError('--out DIR is required', EXIT.USAGE);
  const devices = parseListen(listen, '--listen');
  const hub = parseListen(hubListen, '--hub-listen');
  const config = loadConfig(HubConfigSchema, HUB_ENV_PREFIX, rest);
  const password = config.broker.password;
  if (password === undefined) {
    throw new CliError(
      'broker.password is required (OUTPOST_HUB_BROKER__PASSWORD or --broker.password)',
      EXIT.USAGE,
    );
  }
  const store = await openHubStore(config);
  try {
    const written = await writeBrokerAuth(store, {
      dir: out,
      hub: { username: config.broker.username, password },
      listeners: { ...(devices && { devices }), ...(hub && { hub }) },
    });
    console.log(
      `outpost hub broker-config: ${written.devices} devices → ${written.passwd}, ${written.acl}, ${written.hubPasswd}, ${written.hubAcl}, ${written.conf}`,
    );
  } finally {
    await store.close();
  }
}

function parseListen(value: unknown, flag: string): { host: string; port: number } | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === 'string' ? /^(.+):(\d{1,5})$/.exec(value) : null;
  const port = Number(match?.[2]);
  if (match === null || port > 65_535) throw new CliError(`${flag} must be HOST:PORT`, EXIT.USAGE);
  return { host: match[1] as string, port };
}
