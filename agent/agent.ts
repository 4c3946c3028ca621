import { type Logger, pino } from 'pino';
import { type Ack, encodeMessage, formatIssues, OutpostError, ReportedStateSchema } from '../shared/index.js';
import { startApi } from './api/server.js';
import { CommandHandler } from './commands.js';
import { type AgentConfig, AgentConfigSchema } from './config.js';
import { trustedKeysOf } from './delivery/config.js';
import { splitDesired } from './delivery/lenient-desired.js';
import { setupDelivery } from './delivery/setup.js';
import { DesiredReconciler } from './desired/reconciler.js';
import { artifactPath, createTaskRunner } from './federated/setup.js';
import { type AgentInference, setupInference } from './inference/setup.js';
import { createHubFetch, loadHubTls } from './link/hub-tls.js';
import { HubProtocol } from './link/hub-version.js';
import { InboundRouter } from './link/inbound.js';
import { MqttLink } from './link/mqtt-link.js';
import { NOT_AN_OUTPOST_HUB } from './link/ping.js';
import { ComponentLoggers } from './logging.js';
import { MetricsFlusher } from './metrics/flusher.js';
import { ModelMetrics } from './metrics/model-metrics.js';
import { ShadowRunner } from './metrics/shadow-runner.js';
import { AgentOutbox } from './outbox/agent-outbox.js';
import { parseEventInput } from './outbox/event-input.js';
import { configWarnings } from './start-warnings.js';
import { StartedParts } from './started-parts.js';
import { buildReportedState, StateReporter } from './state/reported.js';
import { DeliveryStore } from './store/delivery-store.js';
import { type AckOutcome, type MonotonicSource, openAgentStore } from './store/index.js';
import { SampleStore } from './store/sample-store.js';
import { createAgentOperations } from './telemetry/agent-operations.js';
import { LogShipper } from './telemetry/log-shipper.js';
import type { Agent, AgentStatus, Enqueued } from './types.js';
import { healthOf } from './update/health.js';
import { AgentUpdater, type LauncherContext } from './update/updater.js';
import { AGENT_VERSION } from './version.js';

/** Options of {@link createAgent}. */
export interface CreateAgentOptions {
  /**
   * Parent logger. When given, its level is the default level (config `logLevel` is then
   * not used); a desired-state `logLevel` still changes the agent's loggers at run time.
   */
  logger?: Logger;
  /**
   * Time sources (for clock-jump tests): `wallNow` stamps events and reports (default
   * `Date.now`), `monoNow` drives the agent clock that TTLs count in (default
   * `performance.now`). A wall-clock jump never changes what expires.
   */
  clock?: { wallNow?: () => number; monoNow?: MonotonicSource };
  /** Observer of every ack the agent applies, with what it did (tests, benchmarks). */
  onAck?: (ack: Ack, outcome: AckOutcome) => void;
  /**
   * How this agent is updated (docs/agent-updates.md): `launcher` with the launcher's context
   * (`outpost agent launch` runs it from an install slot), `image` (a container: a new image),
   * `none` (default: started directly; desired agent releases are refused).
   */
  update?: { managedBy: 'launcher'; launcher: LauncherContext } | { managedBy: 'image' | 'none' };
}

/** A pino destination counting the lines written to it (error-or-worse lines for the update gates). */
class LineCounter {
  count = 0;
  write(_line: string): void {
    this.count++;
  }
}

function parseAgentConfig(config: AgentConfig): AgentConfig {
  const parsed = AgentConfigSchema.safeParse(config);
  if (!parsed.success) {
    const problems = formatIssues(parsed.error);
    throw new OutpostError('AGENT_CONFIG_INVALID', problems.join('; '), { details: problems });
  }
  return parsed.data;
}

/**
 * Starts an agent: opens its store, starts the local API, connects to the hub and
 * drains the outbox. Throws `AGENT_CONFIG_INVALID` on a bad config; when any part fails to
 * start, every part already started is closed (newest first) and the promise rejects with
 * that part's error, leaving nothing open.
 */
export async function createAgent(config: AgentConfig, options: CreateAgentOptions = {}): Promise<Agent> {
  const cfg = parseAgentConfig(config);
  const wallNow = options.clock?.wallNow ?? Date.now;
  const startedAt = wallNow();
  // Warn-and-worse lines also go to the hub, through the telemetry lane, once the outbox is
  // open (an embedding application's own logger is left as it is).
  const shipper = new LogShipper(cfg.telemetry.logs.maxPerMinute, wallNow);
  const errorLines = new LineCounter();
  const root = (
    options.logger ??
    pino(
      { name: 'outpost-agent', level: cfg.logLevel },
      pino.multistream([
        { level: 'trace', stream: pino.destination(1) },
        { level: 'warn', stream: shipper },
        { level: 'error', stream: errorLines },
      ]),
    )
  ).child({ deviceId: cfg.deviceId });
  const defaultLevel = (options.logger?.level ?? cfg.logLevel) as AgentConfig['logLevel'];
  const loggers = new ComponentLoggers(root);
  const warnings = configWarnings(cfg);
  for (const warning of warnings) root.warn({ component: 'agent' }, warning);
  // Private CA and client certificate for mqtts:// and https:// to the hub.
  const hubTls = loadHubTls(cfg.tls);
  const started = new StartedParts(root);
  try {
    return await startParts(cfg, options, {
      loggers,
      defaultLevel,
      wallNow,
      startedAt,
      hubTls,
      started,
      warnings,
      shipper,
      errorLines,
    });
  } catch (err) {
    await started.closeAll();
    throw err;
  }
}

/** What {@link createAgent} hands to {@link startParts}. */
interface StartContext {
  /** What keeps this agent from doing its job, found in its configuration at start. */
  warnings: readonly string[];
  /** Ships warn-and-worse log lines to the hub once the outbox is open. */
  shipper: LogShipper;
  loggers: ComponentLoggers;
  defaultLevel: AgentConfig['logLevel'];
  wallNow: () => number;
  startedAt: number;
  hubTls: ReturnType<typeof loadHubTls>;
  /** Every part is recorded here once started, so a failure later closes it. */
  started: StartedParts;
  /** Error-or-worse lines logged (0 with an embedding application's logger). */
  errorLines: { count: number };
}

async function startParts(cfg: AgentConfig, options: CreateAgentOptions, ctx: StartContext): Promise<Agent> {
  const { loggers, defaultLevel, wallNow, startedAt, hubTls, started, warnings, shipper, errorLines } = ctx;
  const hub = createHubFetch(hubTls);
  started.add('hub HTTP dispatcher', () => hub.close());
  const store = openAgentStore({
    dataDir: cfg.dataDir,
    durability: cfg.durability,
    quotas: cfg.outbox.lanes,
    monoNow: options.clock?.monoNow,
  });
  started.add('store', () => store.close());
  let closing = false;
  // Per-model metrics, counted on the inference path, flushed to the outbox.
  const modelMetrics = new ModelMetrics(wallNow);
  // Shadow mode: the desired shadow version runs on the same inputs, after the answer.
  const shadowRunner = new ShadowRunner({
    run: (model, inputs) => inference.parts.runtime.runShadow(model, inputs),
    has: (model) => inference.parts.runtime.hasShadow(model),
    metrics: modelMetrics,
    log: loggers.child('shadow'),
  });
  // Prometheus metrics, device telemetry and drift summaries.
  const ops = createAgentOperations({
    deviceId: cfg.deviceId,
    deviceSecret: cfg.deviceSecret,
    dataDir: cfg.dataDir,
    hubHttpUrl: cfg.inference.hubHttpUrl,
    fetch: hub.fetch,
    telemetry: cfg.telemetry,
    status: () => status(),
    engineOf: (model) => inference.report().models.find((m) => m.name === model)?.engine ?? 'none',
    enqueue: (event) => outbox.enqueue(parseEventInput(event)),
    now: wallNow,
    log: loggers.child('telemetry'),
  });
  const inference: AgentInference = setupInference({
    config: cfg,
    db: store.db,
    enqueue: (event) => enqueue(event),
    onChange: () => reporter.publishNow('models'),
    hubOnline: () => link.connected,
    onInfer: (o) => {
      modelMetrics.record(o);
      shadowRunner.observe(o);
      ops.observe(o);
    },
    log: loggers.child('inference'),
    fetch: hub.fetch,
  });
  started.add('inference', () => inference.close());

  // Whether federated rounds' weights may come as artifacts (reported to the hub).
  const flArtifacts = artifactPath(cfg) !== undefined;
  // Model delivery: the desired `models` section, downloaded, verified, activated.
  const delivery = setupDelivery({
    config: cfg,
    db: store.db,
    inference,
    onChange: () => reporter.publishNow('delivery'),
    log: loggers.child('delivery'),
    now: wallNow,
    fetch: hub.fetch,
  });
  started.add('model delivery', () => delivery.close());

  // Over-the-air updates of the agent itself: the desired `agent` section.
  const update = options.update ?? { managedBy: 'none' as const };
  const outboxAtStart = store.outbox.counters();
  const updater = new AgentUpdater({
    managedBy: update.managedBy,
    launcher: update.managedBy === 'launcher' ? update.launcher : undefined,
    version: AGENT_VERSION,
    dataDir: cfg.dataDir,
    hubHttpUrl: cfg.delivery.hubHttpUrl ?? cfg.inference.hubHttpUrl,
    authorization: `Basic ${Buffer.from(`${cfg.deviceId}:${cfg.deviceSecret}`).toString('base64')}`,
    config: cfg.delivery,
    store: new DeliveryStore(store.db),
    trustedKeys: trustedKeysOf(cfg.delivery),
    errors: () => errorLines.count,
    outboxDraining: () => !healthOf(status(), outboxAtStart).waiting.some((w) => w.startsWith('outbox')),
    onChange: () => reporter.publishNow('update'),
    log: loggers.child('update'),
    now: wallNow,
    fetch: hub.fetch,
  });
  started.add('agent updates', () => updater.close());

  const enqueue = (input: unknown): Enqueued => {
    if (closing) throw new OutpostError('AGENT_CLOSED');
    return outbox.enqueue(parseEventInput(input));
  };

  const hubProtocol = new HubProtocol(loggers.child('protocol'));
  const stamp = () => hubProtocol.stamp();
  const link: MqttLink = new MqttLink({
    stamp,
    deviceId: cfg.deviceId,
    deviceSecret: cfg.deviceSecret,
    mqttUrl: cfg.hub.mqttUrl,
    tls: hubTls,
    ...cfg.link,
    log: loggers.child('link'),
    onMessage: (topic, payload) => router.handle(topic, payload),
    onConnect: () => {
      updater.onConnect();
      reporter.publishNow('connect');
      outbox.onConnect();
    },
    onDisconnect: () => outbox.onDisconnect(),
  });
  const outbox: AgentOutbox = new AgentOutbox({
    store,
    dataDir: cfg.dataDir,
    config: cfg.outbox,
    wallNow,
    isConnected: () => link.connected,
    publish: (payload) => link.publish('up', payload),
    stamp,
    onLedgerChange: () => reporter.publishNow('ledger'),
    onAck: options.onAck,
    log: loggers.child('outbox'),
  });
  const reporter: StateReporter = new StateReporter({
    encode: () =>
      encodeMessage(
        ReportedStateSchema,
        buildReportedState({
          at: wallNow(),
          epoch: store.epoch,
          startedAt,
          appliedRev: reconciler.appliedRev,
          outcome: reconciler.outcome,
          config: reconciler.effective(),
          outbox: store.outbox.counters(),
          ledger: store.outbox.ledger.report(),
          inference: inference.report(),
          models: delivery.report(),
          linkLastError: link.info().lastError,
          update: updater.report(),
          federated: { artifacts: flArtifacts },
          hubReadsCurrent: hubProtocol.readsCurrent(),
        }),
      ),
    publish: (payload) => link.publish('state', payload, { retain: true }),
    log: loggers.child('state'),
  });
  started.add('state reporter', () => reporter.stop());
  const reconciler: DesiredReconciler = new DesiredReconciler({
    store: store.desired,
    defaults: { logLevel: defaultLevel, reportIntervalS: cfg.reportIntervalS },
    apply: (settings) => {
      loggers.setLevel(settings.logLevel);
      reporter.setIntervalS(settings.reportIntervalS);
    },
    log: loggers.child('desired'),
  });
  const commands = new CommandHandler({
    enqueueResult: (result) => enqueue({ type: 'cmd.result', body: result, lane: 'control' }),
    publishState: (reason) => reporter.publishNow(reason),
    log: loggers.child('commands'),
  });
  const router: InboundRouter = new InboundRouter(
    cfg.deviceId,
    loggers.child('inbound'),
    {
      ack: (ack) => outbox.onAck(ack),
      pong: (pong) => link.onPong(pong),
      desired: (doc) => {
        if (reconciler.onDesired(doc)) reporter.publishNow('desired');
        delivery.reconcile(reconciler.doc?.models);
        updater.reconcile(reconciler.doc?.agent);
        federated.setTask(store.desired.load().doc?.federated?.task);
      },
      desiredInvalid: (payload, reason) => {
        // Invalid model entries are refused one by one; the rest still applies.
        const split = splitDesired(payload);
        if (split !== undefined) {
          for (const r of split.refused) delivery.refuse(r.name, r.version, r.error);
          if (split.agentRefused) updater.refuse(split.agentRefused.version, split.agentRefused.error);
          if (reconciler.onDesired(split.doc)) reporter.publishNow('desired');
          delivery.reconcile(reconciler.doc?.models);
          updater.reconcile(reconciler.doc?.agent);
          return;
        }
        if (reconciler.onInvalid(payload, reason)) reporter.publishNow('desired');
      },
      command: (cmd) => commands.handle(cmd),
      commandInvalid: (id, name, reason) => commands.refuse(id, name, reason),
    },
    hubProtocol,
  );

  const status = (): AgentStatus => ({
    deviceId: cfg.deviceId,
    epoch: store.epoch,
    startedAt,
    link: link.info(),
    outbox: store.outbox.counters(),
    ledger: store.outbox.ledger.totals(),
    desired: { appliedRev: reconciler.appliedRev, outcome: reconciler.outcome ?? null },
    inbound: { invalid: router.stats(), protocol: hubProtocol.stats() },
    inference: inference.report(),
    // Until the first pong: once one arrives the broker is a hub and the warning goes.
    warnings:
      link.info().pingRttMs === null && link.info().lastError?.startsWith(NOT_AN_OUTPOST_HUB)
        ? [...warnings, link.info().lastError as string]
        : [...warnings],
    disk: outbox.disk(),
  });

  const samples = new SampleStore(store.db, cfg.samples);
  // The federated task of the applied desired state, trained on the stored samples.
  const federated = createTaskRunner({
    deviceId: cfg.deviceId,
    dataDir: cfg.dataDir,
    db: store.db,
    samples,
    enqueue: (event) => enqueue(event),
    log: loggers.child('federated'),
    config: cfg,
    fetch: hub.fetch,
    now: wallNow,
  });
  started.add('federated task runner', () => federated.close());
  reconciler.applyCurrent();
  await inference.loadActive();
  // Resumes deliveries of the applied desired state (downloads continue where they stopped).
  delivery.reconcile(reconciler.doc?.models);
  // Resumes an update of the agent itself (a download continues; a downloaded bundle is handed
  // to the launcher again).
  updater.reconcile(reconciler.doc?.agent);
  const api = await startApi({
    ...cfg.api,
    status,
    enqueue,
    models: inference.models,
    samples,
    federated,
    routes: (app) => ops.registerRoutes(app),
    isClosing: () => closing,
    log: loggers.child('api'),
  });
  started.add('local API', () => api.close());
  const metricsFlusher = new MetricsFlusher({
    metrics: modelMetrics,
    enqueue: (event) => outbox.enqueue(parseEventInput(event)),
    intervalMs: cfg.metrics.flushIntervalMs,
    log: loggers.child('metrics'),
  });
  link.start();
  started.add('hub link', () => link.close());
  outbox.start();
  started.add('outbox drain', () => outbox.stop());
  federated.setTask(store.desired.load().doc?.federated?.task);
  federated.resumeUploads();
  metricsFlusher.start();
  started.add('metrics flusher', () => metricsFlusher.stop());
  ops.start();
  started.add('device telemetry', () => ops.stop());
  shipper.attach((event) => outbox.enqueue(parseEventInput(event)));
  started.add('log shipping', () => shipper.detach());
  loggers.root.info({ epoch: store.epoch, api: api.url, hub: cfg.hub.mqttUrl }, 'agent started');

  let closed: Promise<void> | undefined;
  let finalStatus: AgentStatus | undefined;
  const close = async (): Promise<void> => {
    closing = true;
    reporter.stop();
    try {
      await federated.close();
      ops.stop();
      await outbox.stop();
      await link.close();
      await api.close();
      await delivery.close();
      updater.close();
      metricsFlusher.stop();
      await inference.close();
      await hub.close();
    } finally {
      shipper.detach();
      finalStatus = status();
      store.close();
      loggers.root.info('agent closed');
    }
  };

  return {
    deviceId: cfg.deviceId,
    epoch: store.epoch,
    api: { url: api.url, port: api.port },
    enqueue: (event) => enqueue(event),
    models: inference.models,
    status: () => finalStatus ?? status(),
    close: () => {
      closed ??= close();
      return closed;
    },
  };
}
