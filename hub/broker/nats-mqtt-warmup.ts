import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import type { Logger } from 'pino';

/**
 * Logs in over MQTT, once, to every NATS node of `urls` as the hub, so that each node has set
 * up MQTT for the account (its session streams and the internal replies it waits on) before
 * the hub makes the nodes reload their users. nats-server 2.9.10 breaks that set-up for good
 * when a node's first MQTT client arrives while it reloads: every later MQTT CONNECT on that
 * node then times out ("unable to persist session … timeout") until the node restarts. Best
 * effort: a node that does not answer in time is logged and left.
 */
export async function warmNatsMqtt(
  urls: readonly string[],
  hub: { username: string; password: string },
  log: Logger,
  timeoutMs = 10_000,
): Promise<void> {
  await Promise.all(
    urls.map(async (url) => {
      try {
        // `false`: a connection closed before its CONNACK (a node that times out the login)
        // rejects. Without it mqtt.js's promise never settles, and a hub starting with
        // nothing else open yet exited silently with code 0.
        const client = await mqtt.connectAsync(
          url,
          {
            protocolVersion: 4,
            clientId: `${hub.username}-warmup-${randomBytes(4).toString('hex')}`,
            username: hub.username,
            password: hub.password,
            reconnectPeriod: 0,
            connectTimeout: timeoutMs,
          },
          false,
        );
        await client.endAsync();
      } catch (err) {
        log.warn(
          { url, err: (err as Error).message },
          'NATS node did not take an MQTT login before the users reload',
        );
      }
    }),
  );
}
