import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { TOPIC_ROOT } from '../../shared/index.js';
import type { BrokerConfig } from './mqtt-config.js';
import { shareGroupName } from './share-group.js';
import { topicMatches } from './topic-match.js';
import type { HubBus, MessageHandler, PublishOptions } from './types.js';

/** The {@link HubBus} over an external broker, and its connection. */
export interface ExternalBus {
  readonly bus: HubBus;
  readonly client: MqttClient;
  /** Disconnects from the broker (in-flight QoS 1 publications are flushed first). Idempotent. */
  close(): Promise<void>;
}

/** Mosquitto publishes its connected-client count here every `sys_interval` seconds. */
const SYS_CLIENTS = '$SYS/broker/clients/connected';

/**
 * Whether the hub subscribes to `filter` shared (one replica gets each message) or plain
 * (every replica gets every message). `status` is plain: it is retained, and a shared
 * subscription never receives retained messages, yet that is how a replica learns who is
 * online at start (the broker's retained status tells the truth). Applying a status
 * is idempotent (keyed by connection id), so every replica applying it is harmless.
 */
export function isSharedFilter(filter: string): boolean {
  return filter.startsWith(`${TOPIC_ROOT}/`) && !filter.endsWith('/status');
}

/**
 * Connects the hub to an external MQTT broker as `broker.username`, with a
 * clean session and a random client id per replica. Device uplink filters are subscribed as
 * MQTT shared subscriptions `$share/{shareGroup}/…` (see {@link isSharedFilter}). The broker
 * cannot report single disconnects, so `onSessionEnd` handlers are never called: a device's
 * last will (`status` offline) marks it offline instead. Resolves once connected; rejects with
 * the broker's refusal otherwise.
 */
export async function connectExternalBus(config: BrokerConfig, logger: Logger): Promise<ExternalBus> {
  if (config.url === undefined) throw new Error('connectExternalBus needs broker.url');
  const clientId = `${config.username}-${randomBytes(6).toString('hex')}`;
  const shareGroup = shareGroupName(config);
  const client = await mqtt.connectAsync(config.url, {
    protocolVersion: 4,
    clientId,
    username: config.username,
    password: config.password,
    clean: true,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
  });
  const subscriptions: Array<{ filter: string; handler: MessageHandler }> = [];
  let brokerClients = 0;

  client.on('message', (topic, payload) => {
    if (topic === SYS_CLIENTS) {
      brokerClients = Number(payload.toString()) || 0;
      return;
    }
    for (const { filter, handler } of subscriptions) {
      if (!topicMatches(filter, topic)) continue;
      try {
        const result = handler(topic, payload, {});
        if (result instanceof Promise) {
          result.catch((err: unknown) => logger.error({ err, topic }, 'bus message handler failed'));
        }
      } catch (err) {
        logger.error({ err, topic }, 'bus message handler threw');
      }
    }
  });
  client.on('error', (err) => logger.warn({ err: err.message }, 'external broker connection error'));
  client.on('offline', () => logger.warn({ url: config.url }, 'external broker unreachable; reconnecting'));
  client.on('reconnect', () => logger.info({ url: config.url }, 'reconnecting to the external broker'));
  // Best effort: a broker without $SYS (or an ACL denying it) leaves the count at 0.
  await client.subscribeAsync(SYS_CLIENTS, { qos: 0 }).catch(() => undefined);
  logger.info({ url: config.url, clientId }, 'connected to the external broker');

  const bus: HubBus = {
    async subscribe(filter, handler) {
      subscriptions.push({ filter, handler });
      const wire = isSharedFilter(filter) ? `$share/${shareGroup}/${filter}` : filter;
      const granted = await client.subscribeAsync(wire, { qos: 1 });
      if (granted.some((g) => g.qos === 128)) {
        throw new Error(`the broker refused the hub's subscription to ${wire} (check its ACL)`);
      }
    },
    async publish(topic: string, payload: Buffer, options: PublishOptions) {
      await client.publishAsync(topic, payload, { qos: options.qos, retain: options.retain });
    },
    onSessionEnd() {
      // An external broker does not tell clients about other clients' disconnects.
    },
    clientCount: () => brokerClients,
    connected: () => client.connected,
  };

  let closing: Promise<void> | undefined;
  return {
    bus,
    client,
    close: () => {
      closing ??= client.endAsync(false).then(() => undefined);
      return closing;
    },
  };
}
