import { randomBytes } from 'node:crypto';
import { Aedes, type Client } from 'aedes';
import { topicMatches } from '../bus/topic-match.js';
import type { HubBus, MessageHandler, PublishOptions, SessionEnd } from '../bus/types.js';
import { type AclDeps, createAclHandlers } from './acl.js';
import { guardClientPacketSize } from './packet-size-guard.js';
import { indexRetainedMessages, type RetainedPersistence } from './retained-index.js';

/** The embedded aedes broker and the {@link HubBus} over it. */
export interface EmbeddedBroker {
  readonly aedes: Aedes;
  readonly bus: HubBus;
  /**
   * Connections that took over a live session of the same client id, by id (two processes
   * sharing one device id take turns for ever; a reconnect over a half-dead link counts once).
   */
  clientIdConflicts(id: string): number;
  /** Disconnects every client (their wills are published) and stops the broker. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts aedes 1.x (MQTT 3.1.1 only) with the hub's authentication and ACL. No transport
 * is opened here: see `transports.ts`. Messages reach bus subscribers through aedes'
 * `published` hook, which also names the publishing connection (for wills too).
 */
/** What the embedded broker needs besides its access control. */
export interface EmbeddedBrokerDeps extends AclDeps {
  /** Largest MQTT packet (remaining length), checked while it is read, before authentication. */
  maxPacketBytes: number;
  /** A connection that has not completed CONNECT within this many ms is closed. */
  connectTimeoutMs: number;
}

export async function startEmbeddedBroker(deps: EmbeddedBrokerDeps): Promise<EmbeddedBroker> {
  const logger = deps.logger;
  const subscriptions: Array<{ filter: string; handler: MessageHandler }> = [];
  const sessionEndHandlers: Array<(end: SessionEnd) => void> = [];
  const sessions = new WeakMap<Client, string>();
  const sessionOf = (client: Client): string => {
    let id = sessions.get(client);
    if (id === undefined) {
      id = randomBytes(9).toString('base64url');
      sessions.set(client, id);
    }
    return id;
  };

  const dispatch = (topic: string, payload: Buffer, session: string | undefined) => {
    for (const { filter, handler } of subscriptions) {
      if (!topicMatches(filter, topic)) continue;
      try {
        const result = handler(topic, payload, { session });
        if (result instanceof Promise) {
          result.catch((err: unknown) => logger.error({ err, topic }, 'bus message handler failed'));
        }
      } catch (err) {
        logger.error({ err, topic }, 'bus message handler threw');
      }
    }
  };

  const aedes = await Aedes.createBroker({
    ...createAclHandlers(deps),
    connectTimeout: deps.connectTimeoutMs,
    // No queue in aedes' message emitter. With a limit (aedes' default 100 messages in flight),
    // messages wait behind deliveries to slow clients, and when those complete the emitter
    // drains its queue by recursion: every queued message with no MQTT subscriber (each device
    // uplink: the hub reads it in `published`) completes synchronously and starts the next. A
    // backlog of thousands overflowed the stack and killed the hub (5000 devices sending at
    // once). Without the limit each message is handed on as it arrives; what the queue held
    // is then in flight instead, the same memory.
    concurrency: 0,
    published: (packet, client, callback) => {
      // `client` is null for the hub's own publications despite aedes' typing.
      const origin = (client as Client | null) === null ? undefined : sessionOf(client);
      dispatch(packet.topic, Buffer.from(packet.payload), origin);
      callback(null);
    },
  });
  // Every listener (TCP, TLS, WebSocket) hands its connections to `handle`: the packet size
  // limit goes in there, so no listener can miss it.
  const handle = aedes.handle.bind(aedes);
  aedes.handle = (conn, req) => {
    const client = handle(conn, req);
    guardClientPacketSize(client, deps.maxPacketBytes, (announced) =>
      deps.rejections.reject(
        (conn as { remoteAddress?: string }).remoteAddress ?? 'unknown',
        'mqtt.packet-too-large',
        `a packet announced ${announced} bytes (limit ${deps.maxPacketBytes}); connection closed`,
      ),
    );
    return client;
  };
  // Exact-topic retained lookups: the default store scans every retained message per
  // SUBSCRIBE, an O(N²) connect storm.
  // aedes' typings omit the `persistence` property it has at run time.
  indexRetainedMessages((aedes as unknown as { persistence: RetainedPersistence }).persistence);
  // aedes closes the older connection of a client id when a new one registers (MQTT-3.1.4-2).
  const conflicts = new Map<string, number>();
  const internals = aedes as unknown as {
    clients: Record<string, Client | undefined>;
    registerClient(client: Client): void;
  };
  const register = internals.registerClient.bind(aedes);
  internals.registerClient = (client: Client) => {
    if (internals.clients[client.id] !== undefined) {
      const count = (conflicts.get(client.id) ?? 0) + 1;
      conflicts.set(client.id, count);
      deps.rejections.reject(
        client.id,
        'connect.client-id-conflict',
        `a new connection took over the live session of ${client.id} (${count} so far): two processes share this device id?`,
      );
    }
    register(client);
  };
  aedes.on('clientDisconnect', (client) => {
    const end: SessionEnd = { clientId: client.id, session: sessionOf(client) };
    for (const handler of sessionEndHandlers) {
      try {
        handler(end);
      } catch (err) {
        logger.error({ err, clientId: client.id }, 'session-end handler threw');
      }
    }
  });
  aedes.on('clientReady', (client) => logger.debug({ clientId: client.id }, 'client connected'));
  aedes.on('clientError', (client, err) =>
    logger.debug({ clientId: client.id, err: err.message }, 'client connection error'),
  );
  aedes.on('connectionError', (client, err) =>
    logger.debug({ clientId: client.id, err: err.message }, 'connection error before CONNECT'),
  );

  const bus: HubBus = {
    async subscribe(filter, handler) {
      subscriptions.push({ filter, handler });
    },
    publish(topic: string, payload: Buffer, options: PublishOptions) {
      return new Promise<void>((resolve, reject) => {
        aedes.publish(
          { cmd: 'publish', topic, payload, qos: options.qos, retain: options.retain, dup: false },
          (err) => (err ? reject(err) : resolve()),
        );
      });
    },
    onSessionEnd(handler) {
      sessionEndHandlers.push(handler);
    },
    clientCount: () => (aedes.closed ? 0 : aedes.connectedClients),
  };

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => aedes.close(() => resolve()));
    return closing;
  };
  return { aedes, bus, close, clientIdConflicts: (id) => conflicts.get(id) ?? 0 };
}
