import { HUB_ENV_PREFIX, HubConfigSchema, openHubStore, writeBrokerAuth } from '../../hub/index.js';
import type { ConfigObject } from '../../shared/index.js';
import { CliError, EXIT } from '../exit-codes.js';
import { loadConfig } from '../load-config.js';

export const HUB_BROKER_CONFIG_HELP = `outpost hub broker-config --out DIR [--listen HOST:PORT] [hub settings]

Writes an external Mosquitto's auth files from the hub's store:
  DIR/passwd          hub user + one $7$ (PBKDF2-SHA512) line per enrolled device
  DIR/acl             hub user: every device topic; others: only their own (pattern … %u)
  DIR/mosquitto.conf  a minimal config using both (listener from --listen, default 0.0.0.0:1883)
Reads the same settings as \`outpost hub\` (store.url, broker.username, broker.password, …).
Mosquitto rereads passwd and acl on SIGHUP. With broker.authDir the hub keeps them current itself.

Example:
  OUTPOST_HUB_BROKER__PASSWORD=… outpost hub broker-config --store.url postgres://… --out /etc/mosquitto/outpost`;

/** `outpost hub broker-config --out DIR`. */
export async function runBrokerConfigCommand(flags: ConfigObject): Promise<void> {
  const { out, listen, ...rest } = flags;
  if (typeof out !== 'string') throw new CliError('--out DIR is required', EXIT.USAGE);
  const listener = parseListen(listen);
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
      listener,
    });
    console.log(
      `outpost hub broker-config: ${written.devices} devices → ${written.passwd}, ${written.acl}, ${written.conf}`,
    );
  } finally {
    await store.close();
  }
}

function parseListen(value: unknown): { host: string; port: number } | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === 'string' ? /^(.+):(\d{1,5})$/.exec(value) : null;
  const port = Number(match?.[2]);
  if (match === null || port > 65_535) throw new CliError('--listen must be HOST:PORT', EXIT.USAGE);
  return { host: match[1] as string, port };
}
