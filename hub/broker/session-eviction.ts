import mqtt from 'mqtt';
import type { Logger } from 'pino';
import type { BrokerConfig } from '../bus/mqtt-config.js';

/**
 * Cuts a device's live session on an external broker (Mosquitto) by taking its client id
 * over: the hub connects to `broker.url` (its own listener, as its own user) with the device
 * id as client id and a clean session, and leaves at once. MQTT lets only one connection
 * hold a client id, so the broker closes the device's connection (and publishes its will:
 * `status` offline); client ids are one namespace across Mosquitto's listeners, and the
 * hub's listener does not bind the client id to the user name, so the hub may use it. The
 * device's reconnect is refused once the broker has reread its password file (the hub
 * rewrote it first); a device that gets back in before that announces itself online and
 * is cut again (see the uplink's `evict`). Resolves when done; rejects with the broker's
 * refusal or a timeout.
 */
export async function evictMqttSession(
  config: BrokerConfig,
  deviceId: string,
  logger: Logger,
  timeoutMs = 10_000,
): Promise<void> {
  if (config.url === undefined) throw new Error('evictMqttSession needs broker.url');
  const client = await mqtt.connectAsync(
    config.url,
    {
      protocolVersion: 4,
      clientId: deviceId,
      username: config.username,
      password: config.password,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
    },
    false,
  );
  await client.endAsync();
  logger.info({ deviceId }, "took the device's client id over on the external broker: its session is cut");
}
