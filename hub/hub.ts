import { readFile } from 'node:fs/promises';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import { formatIssues, OutpostError } from '../shared/index.js';
import { resolveAdminToken } from './admin-token.js';
import { type EmbeddedBroker, startEmbeddedBroker } from './broker/embedded.js';
import { writeBrokerAuth } from './broker/mosquitto-auth.js';
import { hubPasswordHash, writeNatsBrokerAuth } from './broker/nats-auth.js';
import { warmNatsMqtt } from './broker/nats-mqtt-warmup.js';
import { NatsReloader } from './broker/nats-reload.js';
import { evictMqttSession } from './broker/session-eviction.js';
import {
  attachMqttWebSocket,
  closeServer,
  listenMqttTcp,
  type WebSocketTransport,
} from './broker/transports.js';
import { connectExternalBus, type ExternalBus } from './bus/mqtt.js';
import { isNatsBroker, natsMqttUrls } from './bus/mqtt-config.js';
import { connectNatsBus } from './bus/nats.js';
import type { HubBus } from './bus/types.js';
import { type HubConfig, HubConfigSchema } from './config.js';
import { openLeases } from './coordination/open.js';
import type { Leases } from './coordination/types.js';
import { EventRetention } from './events/retention.js';
import type { HubEvaluator } from './federated/hub-eval.js';
import { type HubFederated, setupFederated } from './federated/setup.js';
import { closeHttp } from './http/close.js';
import type { HubEndpoints } from './http/context.js';
import { buildHttpApi } from './http/server.js';
import { type HubModels, loadHubModels } from './inference/hub-models.js';
import { type Rescorer, startRescorer } from './inference/rescorer.js';
import { attachOperations, type HubOperations } from './metrics/operations.js';
import { republishAllDesired } from './protocol/downlink.js';
import { startUplink, type UplinkHandler } from './protocol/uplink.js';
import { type HubDelivery, setupDelivery } from './registry/setup.js';
import { Rejections } from './rejections.js';
import { type HubRollouts, setupRollouts } from './rollouts/setup.js';
import { AuthFailureGuard } from './security/failure-guard.js';
import { installRateLimit } from './security/rate-limit.js';
import { SharedAuthFailureGuard } from './security/shared-failure-guard.js';
import { TokenBuckets } from './security/token-bucket.js';
import { HubCounters, type HubStats } from './stats.js';
import { openHubStore } from './store/open.js';
import type { HubStore } from './store/types.js';
import { listenHttps, listenMqttTls } from './tls.js';

/** A running hub. Every URL uses 127.0.0.1 when the listener is bound to all interfaces. */
export interface Hub {
  /** HTTP API, e.g. `http://127.0.0.1:8080`. */
  readonly http: { url: string; port: number };
  /**
   * Where devices connect over MQTT/TCP: the embedded broker (e.g. `mqtt://127.0.0.1:1883`),
   * the external broker's URL, or a NATS cluster's nodes' MQTT URLs, comma-separated.
   */
  readonly mqtt: { url: string; port: number };
  /** Embedded broker over WebSocket on the HTTP port, e.g. `ws://127.0.0.1:8080/mqtt`. */
  readonly ws: { url: string };
  /** Bearer token of the admin API (from config or `{dataDir}/admin-token`). */
  readonly adminToken: string;
  readonly store: HubStore;
  /** Model registry and desired-state service: rollouts and federated learning use them. */
  readonly delivery: HubDelivery;
  /** Federated learning: the round runner and the filing of update events. */
  readonly federated: HubFederated;
  /** Rollouts: operator actions and the driver loop. */
  readonly rollouts: HubRollouts;
  /**
   * Leases among replicas: `isLeader(name)` before each tick of a singleton job.
   * The rollout driver uses `rollouts`; always held with the SQLite store.
   */
  readonly leases: Leases;
  /** Event retention (`events.retention`): passes on start and every `intervalMinutes`. */
  readonly eventRetention: EventRetention;
  /** Embedded broker over TLS (`tls.certFile`), e.g. `mqtts://127.0.0.1:8883`. */
  readonly mqtts?: { url: string; port: number };
  /** The HTTP API over HTTPS (`tls.httpsPort`), e.g. `https://127.0.0.1:8443`. */
  readonly https?: { url: string; port: number };
  /** Counters since this hub started. */
  stats(): HubStats;
  /** Stops HTTP, WebSocket, broker (clients are disconnected), TCP listener and store. Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link buildHub}. */
export interface BuildHubOptions {
  /** Parent logger; default a new pino logger at `config.logLevel`. */
  logger?: Logger;
  /**
   * Hub-side evaluation of federated tasks that ask for it (`hubEval`): the held-out set
   * of the application's model. Default: the MNIST demo's test digits.
   */
  federatedEvaluator?: HubEvaluator;
  /** The clock event retention ages events by; default `Date.now` (tests move it days ahead). */
  eventRetentionNow?: () => number;
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Starts a hub: SQLite store under `config.dataDir`, embedded aedes broker on
 * `config.mqtt` (TCP) and `config.http.wsPath` (WebSocket), HTTP API on `config.http`.
 * Republishes every stored desired state retained before accepting connections. On a
 * failure part-way, everything already started is closed before the error propagates.
 */
export async function buildHub(config: HubConfig, options: BuildHubOptions = {}): Promise<Hub> {
  const parsed = HubConfigSchema.safeParse(config);
  if (!parsed.success) {
    throw new OutpostError('HUB_CONFIG_INVALID', formatIssues(parsed.error).join('; '));
  }
  const cfg = parsed.data;
  const root = options.logger ?? pino({ level: cfg.logLevel });
  const log = (component: string) => root.child({ component });
  // Started parts, closed in reverse dependency order by `shutdown` (also after a failed start).
  const parts: Partial<{
    store: HubStore;
    broker: EmbeddedBroker;
    external: ExternalBus;
    leases: Leases;
    uplink: UplinkHandler;
    app: FastifyInstance;
    ws: WebSocketTransport;
    tcp: Server;
    tls: TlsServer;
    https: HttpsServer;
    models: HubModels;
    rescorer: Rescorer;
    ops: HubOperations;
    federated: HubFederated;
    rollouts: HubRollouts;
    eventRetention: EventRetention;
  }> = {};
  // Learning events stored before the federated part is ready wait for it.
  let federatedReady: (f: HubFederated | undefined) => void = () => undefined;
  const federatedPart = new Promise<HubFederated | undefined>((resolve) => {
    federatedReady = resolve;
  });
  const step = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      root.error({ err, component: 'hub' }, `error while closing the ${what}`);
    }
  };
  const shutdown = async () => {
    const { store, broker, external, uplink, app, ws, tcp, models, rescorer, federated, rollouts } = parts;
    federatedReady(undefined);
    // Stop accepting, then disconnect every client (wills are published), then wait for the
    // listeners to drain, the messages already received to be handled, and close the store.
    const tcpClosed = tcp === undefined ? Promise.resolve() : closeServer(tcp);
    if (broker) await step('broker', () => broker.close());
    if (ws) await step('WebSocket transport', () => ws.close());
    await step('MQTT listener', () => tcpClosed);
    if (parts.tls) await step('MQTT TLS listener', () => closeServer(parts.tls as TlsServer));
    if (parts.ops) await step('telemetry fold', () => (parts.ops as HubOperations).close());
    if (parts.https) {
      const https = parts.https;
      https.closeAllConnections();
      await step('HTTPS listener', () => closeServer(https));
    }
    if (app) await step('HTTP server', () => closeHttp(app));
    if (uplink) await step('message handling', () => uplink.close());
    if (parts.eventRetention)
      await step('event retention', () => (parts.eventRetention as EventRetention).close());
    if (federated) await step('federated rounds', () => federated.close());
    if (rollouts) await step('rollout driver', () => rollouts.driver.close());
    if (external) await step('external broker connection', () => external.close());
    if (rescorer) await step('re-scorer', () => rescorer.close());
    if (models) await step('models', () => models.close());
    if (parts.leases) await step('leases', () => (parts.leases as Leases).close());
    if (store) await step('store', () => store.close());
  };

  const nats = isNatsBroker(cfg.broker);
  const brokerPassword = cfg.broker.password;
  const natsReloader = new NatsReloader(cfg.broker.reload, async () => {
    if (nats && brokerPassword !== undefined)
      await warmNatsMqtt(
        natsMqttUrls(cfg.broker),
        { username: cfg.broker.username, password: brokerPassword },
        root.child({ component: 'broker' }),
      );
  });
  let hubHash: Promise<string> | undefined;
  /**
   * Rewrites the external broker's password file and ACL (`broker.authDir`); on NATS,
   * `auth.conf`, then signals the nodes in `broker.reload` (a reload refuses removed,
   * disabled and rotated credentials and closes their live connections).
   */
  const rewriteBrokerAuth = async (store: HubStore) => {
    const { authDir, username, password } = cfg.broker;
    if (authDir === undefined || password === undefined) return;
    if (!nats) {
      await writeBrokerAuth(store, { dir: authDir, hub: { username, password } });
      return;
    }
    hubHash ??= hubPasswordHash(password);
    const started = Date.now();
    const written = await writeNatsBrokerAuth(store, {
      dir: authDir,
      hub: { username, hash: await hubHash },
    });
    const reload = await natsReloader.reload();
    const brokerLog = root.child({ component: 'broker' });
    if (written.skipped.length > 0) {
      brokerLog.warn(
        { count: written.skipped.length, first: written.skipped.slice(0, 5) },
        'devices left out of the NATS users: enrolled before NATS support (rotate their secret) or with a "." in their id',
      );
    }
    if (reload.failed.length > 0)
      brokerLog.warn({ failed: reload.failed }, 'NATS nodes not signalled to reload');
    brokerLog.debug(
      {
        devices: written.devices,
        reloaded: reload.signalled.length,
        warmedFirst: reload.warmed,
        ms: Date.now() - started,
      },
      'NATS users rewritten',
    );
  };
  // One rewrite at a time, each reading the store after the change that asked for it.
  let rewrites: Promise<void> = Promise.resolve();
  const refreshBrokerAuth = (store: HubStore) => {
    const run = () => rewriteBrokerAuth(store);
    const next = rewrites.then(run, run);
    rewrites = next.catch(() => undefined);
    return next;
  };

  try {
    const adminToken = await resolveAdminToken(cfg.dataDir, cfg.adminToken, log('admin'));
    const store = await openHubStore(cfg);
    parts.store = store;
    // With replicas on one PostgreSQL, one of them drives each singleton job.
    const leases = openLeases(store, { ttlMs: cfg.store.leaseTtlMs, log: log('leases') });
    parts.leases = leases;
    const counters = new HubCounters();
    const rejections = new Rejections(counters, log('protocol'));
    let bus: HubBus;
    let broker: EmbeddedBroker | undefined;
    // Mosquitto's sessions are cut by taking the device's client id over; NATS closes them
    // itself when it reloads the rewritten users.
    const evictExternal =
      cfg.broker.url === undefined || nats
        ? undefined
        : (id: string) => evictMqttSession(cfg.broker, id, log('broker'));
    if (cfg.broker.url !== undefined) {
      // An external broker keeps its connections (and retained statuses) across hub
      // restarts and other replicas are running, so nobody is marked offline here.
      if (nats) await natsReloader.warmAll();
      if (cfg.broker.authDir !== undefined) await refreshBrokerAuth(store);
      parts.external = nats
        ? await connectNatsBus(cfg.broker, log('broker'))
        : await connectExternalBus(cfg.broker, log('broker'));
      bus = parts.external.bus;
    } else {
      // The embedded broker starts with no connections, so nobody can still be online.
      await store.markAllOffline();
      const { connectsPerS, connectBurst } = cfg.limits.mqtt;
      const connectLimit = new TokenBuckets(connectsPerS, connectBurst);
      broker = await startEmbeddedBroker({
        store,
        rejections,
        logger: log('broker'),
        connectLimit,
        connectGuard: new AuthFailureGuard(cfg.limits.mqtt),
        // The largest payload plus room for the topic and headers.
        maxPacketBytes: cfg.mqtt.maxPayloadBytes + 1024,
        connectTimeoutMs: cfg.limits.mqtt.connectTimeoutMs,
        clientCerts: cfg.tls.clientCerts,
      });
      parts.broker = broker;
      bus = broker.bus;
    }
    const uplink = await startUplink({
      bus,
      store,
      rejections,
      counters,
      logger: log('protocol'),
      maxPayloadBytes: cfg.mqtt.maxPayloadBytes,
      onResultsStored: () => parts.rescorer?.kick(),
      // Device telemetry and drift are folded from the stored events into the store.
      onTelemetryStored: () => parts.ops?.fold.kick(),
      onLearningStored: async (deviceId, events) => (await federatedPart)?.ingest.handle(deviceId, events),
      ...(evictExternal ? { evict: evictExternal } : {}),
    });
    parts.uplink = uplink;
    const republished = await republishAllDesired(store, bus, log('protocol'));

    const models = await loadHubModels({
      dataDir: cfg.dataDir,
      models: cfg.inference.models,
      threads: cfg.inference.threads,
      log: log('inference'),
    });
    parts.models = models;
    // Inputs queued while devices could not reach the hub, including before this start.
    parts.rescorer = startRescorer({ store, models, log: log('inference') });
    parts.rescorer.kick();

    const delivery = await setupDelivery({
      dataDir: cfg.dataDir,
      config: cfg.registry,
      store,
      bus,
      now: Date.now,
      log,
    });

    const federated = await setupFederated({
      store,
      desired: delivery.desired,
      registry: delivery.registry,
      maxArtifactBytes: cfg.registry.maxArtifactBytes,
      retention: cfg.federated.retention,
      log: log('federated'),
      now: Date.now,
      // Every replica files learning events (idempotent in the store); only
      // the holder of the `federated` lease opens, closes and aggregates rounds.
      shouldDrive: () => leases.isLeader('federated'),
      ...(options.federatedEvaluator ? { evaluate: options.federatedEvaluator } : {}),
    });
    parts.federated = federated;
    federatedReady(federated);

    const rollouts = setupRollouts({
      store,
      desired: delivery.desired,
      config: cfg.rollouts,
      now: Date.now,
      log: log('rollouts'),
      registry: delivery.registry,
      shouldDrive: () => leases.isLeader('rollouts'),
      // Drift gates read the drift monitor, attached with the HTTP app below.
      drift: (model, version) => parts.ops?.drift.gateValues(model, version),
    });
    parts.rollouts = rollouts;
    federated.useRollouts((request) => rollouts.service.create(request));

    // Old events every reader has consumed; nothing unless the operator set a limit.
    const eventRetention = new EventRetention({
      store,
      log: log('events'),
      config: cfg.events.retention,
      now: options.eventRetentionNow ?? Date.now,
      shouldDrive: () => leases.isLeader('events'),
      onPruned: (report) => counters.retentionPass(report.deleted),
    });
    parts.eventRetention = eventRetention;
    eventRetention.start();

    const endpoints: HubEndpoints = { mqttUrl: '', wsUrl: '', publicMqttUrl: '', publicHttpUrl: '' };
    const app = buildHttpApi({
      store,
      bus,
      logger: log('http'),
      adminToken,
      bodyLimitBytes: cfg.http.bodyLimitBytes,
      endpoints: () => endpoints,
      hubBrokerUsername: cfg.broker.username,
      natsBroker: nats,
      // Failed device credentials over HTTP: one budget in the store for every replica.
      authFailures: new SharedAuthFailureGuard(store, 'http.auth', cfg.limits.http),
      stats: () => counters.snapshot(),
      now: Date.now,
      models,
      delivery,
      federated,
      rollouts: rollouts.service,
      ...(cfg.broker.authDir === undefined
        ? {}
        : {
            onEnrolled: () => refreshBrokerAuth(store),
            onCredentialsChanged: () => refreshBrokerAuth(store),
          }),
      // aedes keeps its connected clients by id (not in its type declarations).
      clientIdConflicts: (id) => broker?.clientIdConflicts(id) ?? 0,
      disconnectDevice: (id) =>
        evictExternal
          ? evictExternal(id)
          : (broker?.aedes as unknown as { clients: Record<string, { close(): void }> } | undefined)?.clients[
              id
            ]?.close(),
      firstHooks: (instance) => installRateLimit(instance, cfg.limits.http, rejections),
    });
    parts.app = app;
    // /metrics, device telemetry, drift and the dashboard, before the app listens.
    parts.ops = await attachOperations({
      app,
      store,
      bus,
      stats: () => counters.snapshot(),
      adminToken,
      dataDir: cfg.dataDir,
      drift: cfg.drift,
      now: Date.now,
      log,
      deviceHealth: {
        clientIdConflicts: (id) => broker?.clientIdConflicts(id) ?? 0,
        rejections: (id) => rejections.of(id),
      },
    });
    if (broker) parts.ws = attachMqttWebSocket(app.server, cfg.http.wsPath, broker.aedes, log('broker'));
    await app.listen({ host: cfg.http.host, port: cfg.http.port });
    const httpPort = (app.server.address() as AddressInfo).port;

    // On NATS, devices connect to the nodes' MQTT listeners, failing over down the list.
    let mqttUrl = nats ? natsMqttUrls(cfg.broker).join(',') : (cfg.broker.url ?? '');
    let mqttPort =
      cfg.broker.url === undefined ? 0 : Number(new URL(mqttUrl.split(',')[0] ?? '').port || 1883);
    let wsUrl = '';
    if (broker) {
      const tcp = await listenMqttTcp(broker.aedes, cfg.mqtt.host, cfg.mqtt.port);
      parts.tcp = tcp;
      mqttPort = (tcp.address() as AddressInfo).port;
      mqttUrl = `mqtt://${urlHost(cfg.mqtt.host)}:${mqttPort}`;
      wsUrl = `ws://${urlHost(cfg.http.host)}:${httpPort}${cfg.http.wsPath}`;
    }
    let mqtts: { url: string; port: number } | undefined;
    if (broker && cfg.tls.certFile !== undefined) {
      parts.tls = await listenMqttTls(broker.aedes, cfg.tls);
      const port = (parts.tls.address() as AddressInfo).port;
      mqtts = { url: `mqtts://${urlHost(cfg.tls.host)}:${port}`, port };
    }
    let https: { url: string; port: number } | undefined;
    if (cfg.tls.httpsPort !== undefined) {
      parts.https = await listenHttps(app, cfg.tls);
      const port = (parts.https.address() as AddressInfo).port;
      https = { url: `https://${urlHost(cfg.tls.host)}:${port}`, port };
    }
    const httpUrl = `http://${urlHost(cfg.http.host)}:${httpPort}`;
    endpoints.mqttUrl = mqttUrl;
    endpoints.wsUrl = wsUrl;
    endpoints.publicMqttUrl = cfg.public.mqttUrl ?? mqtts?.url ?? mqttUrl;
    endpoints.publicHttpUrl = cfg.public.httpUrl ?? https?.url ?? httpUrl;
    // On NATS, QoS 1 costs a replicated JetStream write per message and a consumer per
    // subscription; the end-to-end acks make QoS 0 exactly once all the same.
    if (nats) endpoints.linkQos = 0;
    const caFile = cfg.tls.caFile ?? cfg.tls.certFile;
    if (cfg.tls.certFile !== undefined && caFile !== undefined)
      endpoints.caPem = await readFile(caFile, 'utf8');
    root.info(
      { component: 'hub', http: httpUrl, mqtt: mqttUrl, ws: wsUrl, https: https?.url, republished },
      'hub started',
    );

    let closing: Promise<void> | undefined;
    return {
      http: { url: httpUrl, port: httpPort },
      mqtt: { url: mqttUrl, port: mqttPort },
      ws: { url: wsUrl },
      adminToken,
      store,
      delivery,
      federated,
      rollouts,
      leases,
      eventRetention,
      ...(mqtts ? { mqtts } : {}),
      ...(https ? { https } : {}),
      stats: () => counters.snapshot(),
      close: () => {
        closing ??= shutdown().then(() => root.info({ component: 'hub' }, 'hub closed'));
        return closing;
      },
    };
  } catch (err) {
    await shutdown();
    throw err;
  }
}
