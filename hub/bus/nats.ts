import { randomBytes } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { type NatsConnection, connect as natsConnect, type Subscription } from 'nats';
import type { Logger } from 'pino';
import { mqttFailover, parseDeviceTopic } from '../../shared/index.js';
import { natsSubject } from '../broker/nats-config.js';
import type { ExternalBus } from './mqtt.js';
import { isSharedFilter } from './mqtt.js';
import { type BrokerConfig, natsMqttUrls } from './mqtt-config.js';
import { shareGroupName } from './share-group.js';
import { topicMatches } from './topic-match.js';
import type { HubBus, MessageHandler, PublishOptions } from './types.js';

/** The MQTT topic of a NATS subject (device ids never hold a `.` on NATS: see nats-auth.ts). */
export function mqttTopic(subject: string): string {
  return subject.replaceAll('.', '/');
}

/**
 * Whether the hub publishes a message as plain core NATS instead of through the MQTT
 * listener: the non-retained `ack` channel (acks of stored batches, pongs, refusals). NATS
 * stores every QoS 1 message an MQTT client publishes in the replicated `$MQTT_msgs` stream and
 * answers its PUBACK only after that write, one write per ack, while a core NATS message is
 * routed like any other and reaches the device's MQTT subscription, QoS 0 or 1, at QoS 0. An
 * ack needs no broker queue: a device that misses one (offline, or the node died) resends the
 * batch after its ack timeout and the hub acks it again from the store. Commands (queued for
 * an offline device's persistent session) and retained messages keep the MQTT path.
 */
export function publishesOverCoreNats(topic: string, options: PublishOptions): boolean {
  return !options.retain && parseDeviceTopic(topic)?.channel === 'ack';
}

/** The {@link HubBus} over a NATS cluster: a NATS connection and an MQTT one to the same nodes. */
export interface NatsBus extends ExternalBus {
  readonly nats: NatsConnection;
}

/**
 * Connects the hub to a NATS cluster (docs/scale-out.md "NATS") over two connections, both as
 * `broker.username`, both failing over across the cluster's nodes:
 *
 * - NATS (the `nats` package), for the device uplink (`up`, `state`, `ping`: the filters
 *   {@link isSharedFilter} marks shared): each is a core NATS subscription in the queue group
 *   `shareGroupName(config)`, so the cluster hands each message to exactly one replica, on
 *   whatever node the device and the replica are connected to. Core NATS is at most once: a
 *   replica that dies holding a batch loses it, the device gets no ack and resends it, and the
 *   store's per-lane sequence numbers drop what was stored already, so every event is stored
 *   exactly once (the same end-to-end contract as on every broker).
 * - MQTT 3.1.1 to a node's MQTT listener (`broker.mqttUrls`), for what the hub publishes
 *   (acks excepted: {@link publishesOverCoreNats}) and for `status`. Retained messages are
 *   an MQTT notion that NATS keeps in the JetStream stream `$MQTT_rmsgs`, replicated across
 *   the cluster: a device on any node receives the desired state published via any other. Writing that stream's records ourselves would tie
 *   the hub to nats-server's internal record format (and its per-node retained-message cache,
 *   which only the server's own MQTT code updates), so the hub publishes as an MQTT client with
 *   retain=true and lets the server do it. `status` is read plain over MQTT for the same reason
 *   (retained statuses tell a starting replica who is online) and is idempotent per connection id.
 *
 * Resolves once both connections are up; rejects with the broker's refusal otherwise.
 */
export async function connectNatsBus(config: BrokerConfig, logger: Logger): Promise<NatsBus> {
  if (config.url === undefined) throw new Error('connectNatsBus needs broker.url');
  const clientId = `${config.username}-${randomBytes(6).toString('hex')}`;
  const queue = shareGroupName(config);
  const servers = config.url.split(',');
  const nc = await natsConnect({
    servers,
    user: config.username,
    pass: config.password,
    name: clientId,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    timeout: 10_000,
  });
  let natsUp = true;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        natsUp = false;
        logger.warn({ server: s.data }, 'NATS connection lost; reconnecting');
      } else if (s.type === 'reconnect') {
        natsUp = true;
        logger.info({ server: s.data }, 'reconnected to NATS');
      } else if (s.type === 'error') {
        logger.warn({ err: String(s.data) }, 'NATS connection error');
      }
    }
  })().catch(() => undefined);

  const mqttUrls = natsMqttUrls(config).join(',');
  const { url, servers: mqttServers } = mqttFailover(mqttUrls);
  let client: MqttClient;
  try {
    client = await mqtt.connectAsync(url, {
      protocolVersion: 4,
      clientId,
      username: config.username,
      password: config.password,
      clean: true,
      // mqtt.js takes the subscriptions again after each reconnect (`resubscribe`, on by default).
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      ...(mqttServers ? { servers: mqttServers } : {}),
    });
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
  const mqttSubscriptions: Array<{ filter: string; handler: MessageHandler }> = [];
  const natsSubscriptions: Subscription[] = [];
  const natsHandlers = new Map<string, MessageHandler[]>();
  const deliver = (handler: MessageHandler, topic: string, payload: Buffer) => {
    try {
      const result = handler(topic, payload, {});
      if (result instanceof Promise) {
        result.catch((err: unknown) => logger.error({ err, topic }, 'bus message handler failed'));
      }
    } catch (err) {
      logger.error({ err, topic }, 'bus message handler threw');
    }
  };
  client.on('message', (topic, payload) => {
    for (const { filter, handler } of mqttSubscriptions) {
      if (topicMatches(filter, topic)) deliver(handler, topic, payload);
    }
  });
  client.on('error', (err) => logger.warn({ err: err.message }, 'NATS MQTT connection error'));
  client.on('offline', () => logger.warn('NATS MQTT listener unreachable; trying the next node'));
  logger.info({ nats: nc.getServer(), mqtt: url, clientId, queue }, 'connected to the NATS cluster');

  const bus: HubBus = {
    async subscribe(filter, handler) {
      if (isSharedFilter(filter)) {
        // One queue subscription per subject, whatever number of handlers: two members of the
        // group in one replica would split the messages between them (uplink and telemetry
        // both read `up`), so the replica fans each message out to its handlers itself.
        const subject = natsSubject(filter);
        const handlers = natsHandlers.get(subject);
        if (handlers !== undefined) {
          handlers.push(handler);
          return;
        }
        const list = [handler];
        natsHandlers.set(subject, list);
        natsSubscriptions.push(
          nc.subscribe(subject, {
            queue,
            callback: (err, msg) => {
              if (err) {
                logger.warn({ err: err.message, subject }, 'NATS subscription error');
                return;
              }
              const topic = mqttTopic(msg.subject);
              const payload = Buffer.from(msg.data);
              for (const h of list) deliver(h, topic, payload);
            },
          }),
        );
        // The subscription is in force once the server has read it.
        await nc.flush();
        return;
      }
      mqttSubscriptions.push({ filter, handler });
      const granted = await client.subscribeAsync(filter, { qos: 1 });
      if (granted.some((g) => g.qos === 128)) {
        throw new Error(`the NATS cluster refused the hub's subscription to ${filter} (check auth.conf)`);
      }
    },
    async publish(topic: string, payload: Buffer, options: PublishOptions) {
      if (publishesOverCoreNats(topic, options)) {
        nc.publish(natsSubject(topic), payload);
        return;
      }
      await client.publishAsync(topic, payload, { qos: options.qos, retain: options.retain });
    },
    onSessionEnd() {
      // Neither NATS nor MQTT tells a client about other clients' disconnects: wills do.
    },
    clientCount: () => null,
    connected: () => natsUp && !nc.isClosed() && client.connected,
  };

  let closing: Promise<void> | undefined;
  return {
    bus,
    client,
    nats: nc,
    close: () => {
      closing ??= (async () => {
        // Drain: stop taking new uplink, finish handing over what arrived, then close.
        await nc.drain().catch(() => undefined);
        await client.endAsync(false).catch(() => undefined);
      })();
      return closing;
    },
  };
}
