import { buildHub, HUB_ENV_PREFIX, HubConfigSchema } from '../../hub/index.js';
import type { ConfigObject } from '../../shared/index.js';
import { lockDataDir } from '../data-dir-lock.js';
import { loadConfig } from '../load-config.js';
import { announceReady, closeOnSignals } from '../process-signals.js';

export const HUB_HELP = `outpost hub [--config FILE] [--data-dir DIR] [--http.port N] [--mqtt.port N] [--log-level LEVEL] [--json]

Runs the hub: HTTP API, embedded MQTT broker (TCP and WebSocket) and SQLite store.
Every setting can also come from a JSON file (--config) or env OUTPOST_HUB_* (__ nests).
The dashboard is at /dashboard (admin token as Basic password), Prometheus metrics at
/metrics. --json prints the start-up line as one JSON object.

Examples:
  outpost hub
  outpost hub --data-dir /var/lib/outpost-hub --http.port 8080 --mqtt.port 1883
  OUTPOST_HUB_ADMIN_TOKEN=$(openssl rand -hex 24) outpost hub --log-level warn
  OUTPOST_HUB_BROKER__PASSWORD=… outpost hub --broker mqtt://mosquitto:1883 --store.url postgres://…
  outpost hub broker-config --out DIR   (an external Mosquitto's passwd, acl, conf; see --help)`;

/** `outpost hub`: runs until SIGINT/SIGTERM. */
export async function runHubCommand(flags: ConfigObject): Promise<void> {
  // `--broker mqtt://host:port` is short for `--broker.url mqtt://host:port`.
  const { broker, json, ...rest } = flags;
  const withBroker = typeof broker === 'string' ? { ...rest, broker: { url: broker } } : rest;
  const config = loadConfig(HubConfigSchema, HUB_ENV_PREFIX, withBroker);
  lockDataDir(config.dataDir, 'outpost hub');
  const hub = await buildHub(config);
  if (json === true)
    console.log(
      JSON.stringify({ http: hub.http.url, mqtt: hub.mqtt.url, ws: hub.ws.url, dataDir: config.dataDir }),
    );
  else
    console.log(
      `outpost hub: http ${hub.http.url}  mqtt ${hub.mqtt.url}  ws ${hub.ws.url}  data ${config.dataDir}`,
    );
  announceReady({ pid: process.pid, http: hub.http.url, mqtt: hub.mqtt.url, ws: hub.ws.url });
  closeOnSignals(
    () => hub.close(),
    (err) => console.error('outpost hub: error while closing:', err),
  );
}
