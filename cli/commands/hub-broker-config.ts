import { createHmac } from 'node:crypto';
import { hubPasswordHash, writeNatsBrokerAuth } from '../../hub/broker/nats-auth.js';
import { writeNatsClusterFiles } from '../../hub/broker/nats-config.js';
import { HUB_ENV_PREFIX, HubConfigSchema, openHubStore, writeBrokerAuth } from '../../hub/index.js';
import type { ConfigObject } from '../../shared/index.js';
import { CliError, EXIT } from '../exit-codes.js';
import { loadConfig } from '../load-config.js';

export const HUB_BROKER_CONFIG_HELP = `outpost hub broker-config --out DIR [--listen HOST:PORT] [--hub-listen HOST:PORT] [hub settings]
outpost hub broker-config --broker nats --out DIR [--nodes HOST,HOST,HOST] [hub settings]

Writes an external Mosquitto's (version 2) auth files from the hub's store:
  DIR/passwd          one $7$ (PBKDF2-SHA512) line per enrolled device
  DIR/acl             devices: only their own topics (pattern … %u), nothing else
  DIR/hub-passwd      the hub user
  DIR/hub-acl         the hub user: every device topic and $SYS
  DIR/mosquitto.conf  the devices' listener (--listen, default 0.0.0.0:1883; client id = user name)
                      and the hub's (--hub-listen, default 127.0.0.1:1884); the hub connects there
Reads the same settings as \`outpost hub\` (store.url, broker.username, broker.password, …).
Mosquitto rereads passwd and acl on SIGHUP. With broker.authDir the hub keeps them current itself.

With --broker nats, a NATS cluster's config set (nats-server 2.9+, docs/scale-out.md "NATS"):
  DIR/auth.conf       users: the hub (every subject) and one per enabled device, confined to
                      its own topics, MQTT connections only (bcrypt hashes)
  DIR/nats-N.conf     one per node of --nodes (default nats-1,nats-2,nats-3): clients 4222,
                      routes 6222, MQTT 1883, monitoring 8222, JetStream, include auth.conf
Start each node with \`nats-server -c nats-N.conf\` beside auth.conf, and the hub with
--broker nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222. Nodes reread auth.conf on
\`nats-server --signal reload=PIDFILE\`; with broker.authDir and broker.reload the hub does that itself.

Examples:
  OUTPOST_HUB_BROKER__PASSWORD=… outpost hub broker-config --store.url postgres://… --out /etc/mosquitto/outpost
  OUTPOST_HUB_BROKER__PASSWORD=… outpost hub broker-config --broker nats --store.url postgres://… --out /etc/nats`;

/** `outpost hub broker-config --out DIR`. */
export async function runBrokerConfigCommand(flags: ConfigObject): Promise<void> {
  const { out, listen, hubListen, broker, nodes, ...rest } = flags;
  if (typeof out !== 'string') throw new CliError('--out DIR is required', EXIT.USAGE);
  if (broker !== undefined && broker !== 'nats' && broker !== 'mosquitto')
    throw new CliError('--broker must be nats or mosquitto', EXIT.USAGE);
  if (broker === 'nats') return writeNatsSet(out, nodes, rest);
  if (nodes !== undefined) throw new CliError('--nodes goes with --broker nats', EXIT.USAGE);
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

async function writeNatsSet(out: string, nodes: unknown, rest: ConfigObject): Promise<void> {
  const hosts =
    nodes === undefined
      ? undefined
      : String(nodes)
          .split(',')
          .map((h) => h.trim())
          .filter((h) => h !== '');
  if (hosts !== undefined && (hosts.length === 0 || hosts.some((h) => !/^[A-Za-z0-9.-]+$/.test(h))))
    throw new CliError('--nodes must be host names, comma-separated', EXIT.USAGE);
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
    const username = config.broker.username;
    const written = await writeNatsBrokerAuth(store, {
      dir: out,
      hub: { username, hash: await hubPasswordHash(password) },
    });
    // Derived from the hub's password, so that regenerating keeps the nodes' route password.
    const routePassword = createHmac('sha256', password).update('outpost nats route').digest('hex');
    const confs = await writeNatsClusterFiles(out, { routePassword, ...(hosts ? { hosts } : {}) });
    if (written.skipped.length > 0)
      console.error(
        `outpost hub broker-config: ${written.skipped.length} devices left out (enrolled before NATS support: rotate their secret; or a "." in the id): ${written.skipped.slice(0, 5).join(', ')}`,
      );
    console.log(
      `outpost hub broker-config: ${written.devices} devices → ${written.path}, ${confs.join(', ')}`,
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
