import { z } from 'zod';
import {
  configBool,
  configInt,
  DeviceIdSchema,
  LogLevelSchema,
  MQTT_URL_LIST,
  UNWARMED_POLICIES,
} from '../shared/index.js';
import { isLoopbackHost } from './api/request-guard.js';
import { DeliveryConfigSchema } from './delivery/config.js';
import { ModelRouteSchema } from './inference/routing.js';
import { AgentTlsSchema } from './link/hub-tls.js';
import { LaneQuotasSchema, LaneWeightsSchema } from './outbox/outbox-config.js';
import { TelemetryConfigSchema } from './telemetry/config.js';

/**
 * The agent's configuration. Sources, later winning: `--config FILE` (JSON), env
 * `OUTPOST_AGENT_*` (`__` nests; e.g. `OUTPOST_AGENT_DEVICE_SECRET`), flags.
 */
/** A list from a file or repeated flags, or one comma-separated string from env or a flag. */
const nameList = () =>
  z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== '')
        : v,
    z.array(z.string().min(1)),
  );

export const AgentConfigSchema = z.strictObject({
  deviceId: DeviceIdSchema,
  /** The secret the hub returned once at enrollment. Prefer env or a 0600 file over flags. */
  deviceSecret: z.string().min(16, 'device secret must be at least 16 characters'),
  hub: z
    .strictObject({
      /**
       * Broker URL: `mqtt://`, `mqtts://`, `ws://` or `wss://`; or a comma-separated list of
       * them (a NATS cluster's nodes): the agent connects to the first and moves to the next
       * each time a connection fails or drops, round the list.
       */
      mqttUrl: z
        .string()
        .regex(MQTT_URL_LIST, 'must be an mqtt://, mqtts://, ws:// or wss:// URL, or a comma-separated list')
        .default('mqtt://127.0.0.1:1883'),
    })
    .prefault({}),
  /**
   * TLS to the hub, for `mqtts://`/`wss://` and `https://` hub URLs:
   * `caFile` (trust a private CA), `certFile` + `keyFile` (client certificate, CN = device id).
   */
  tls: AgentTlsSchema,
  /** Directory of the agent's SQLite store. */
  dataDir: z.string().min(1).default('./outpost-agent-data'),
  api: z
    .strictObject({
      /** Local API address; loopback by default, since it is not authenticated. */
      host: z.string().min(1).default('127.0.0.1'),
      /** Local API port; default 7070, 0 picks a free one. */
      port: configInt().min(0).max(65_535).default(7070),
      /** Bearer token every local API request must carry (at least 16 characters); default none. */
      token: z.string().min(16, 'api.token must be at least 16 characters').optional(),
      /**
       * Serve a non-loopback `host` without `token` anyway (anyone who can reach the port can
       * then enqueue events and run models); default false.
       */
      allowUnauthenticated: configBool().default(false),
      /** Host names requests may use besides IP literals and `localhost` (DNS rebinding guard). */
      allowedHosts: nameList().default([]),
      /** Origins (`http://host:port`) of web pages allowed to call the API besides loopback ones. */
      allowedOrigins: nameList().default([]),
      /**
       * Most output elements an inference answers in JSON (all outputs, all sets of a batch);
       * above it the answer is `INFER_OUTPUT_TOO_LARGE_FOR_JSON` pointing to the binary form.
       */
      jsonMaxOutputElements: configInt().min(1).default(65_536),
    })
    .prefault({})
    .refine((api) => isLoopbackHost(api.host) || api.token !== undefined || api.allowUnauthenticated, {
      message:
        'api.host is not a loopback address: anyone on the network could use the local API; set api.token, or api.allowUnauthenticated true to serve it open anyway',
      path: ['host'],
    }),
  link: z
    .strictObject({
      /** MQTT keepalive, seconds. */
      keepaliveS: configInt().min(5).max(3600).default(30),
      /** Connect timeout, ms. */
      connectTimeoutMs: configInt().min(100).default(10_000),
      /** Reconnect backoff: full jitter over min·2^attempt, capped at max (ms). */
      reconnectMinMs: configInt().min(10).default(500),
      reconnectMaxMs: configInt().min(10).default(30_000),
      /**
       * Application-level ping to the hub (dead links): period, and how long a
       * pong may take before the link is declared dead and reconnected, ms. A silent
       * partition is detected within their sum. `pingIntervalMs: 0` turns the ping off
       * (keepalive only: a silent partition is then found only once the link is idle).
       */
      pingIntervalMs: configInt()
        .min(0)
        .refine((ms) => ms === 0 || ms >= 50, 'must be 0 (off) or at least 50')
        .default(15_000),
      pingTimeoutMs: configInt().min(50).default(10_000),
      /**
       * MQTT QoS of the uplink batches and of the subscriptions to `ack`, `desired` and `cmd`:
       * 1 (default) lets the broker queue them; 0 for a NATS tier (a join token from a hub on
       * NATS sets it), where each QoS 1 message is a write into a replicated JetStream stream
       * and each QoS 1 subscription a replicated consumer. Delivery stays exactly once either
       * way (the hub's end-to-end acks; retained desired state on every subscribe); at 0 a
       * command sent while the device is offline is not kept for it.
       */
      qos: configInt()
        .refine((q) => q === 0 || q === 1, 'must be 0 or 1')
        .default(1),
    })
    .prefault({}),
  outbox: z
    .strictObject({
      /** Most events in one uplink batch. */
      batchMaxEvents: configInt().min(1).max(5000).default(500),
      /** Most JSON bytes of events in one uplink batch (stays under the broker's limit). */
      batchMaxBytes: configInt()
        .min(1024)
        .default(128 * 1024),
      /**
       * Resend a batch not acknowledged by the hub within this time, ms: the base, doubled per
       * consecutive timeout of the lane up to 8× and jittered ±20 % (agent/outbox/ack-backoff.ts).
       */
      ackTimeoutMs: configInt().min(100).default(10_000),
      /** Most batches in flight (published, not yet acknowledged), all lanes together. */
      window: configInt().min(1).max(64).default(8),
      /** Round-robin weight per lane: no lane starves, busier lanes get more turns. */
      weights: LaneWeightsSchema,
      /** Quota (rows, bytes), policy when full and TTL per lane. */
      lanes: LaneQuotasSchema,
      /** How often expired events are dropped and the agent clock is saved, ms. */
      expirySweepMs: configInt().min(10).default(1000),
      /**
       * Free bytes of the data dir's filesystem kept for acks, deletions and the loss ledger:
       * below it new events are refused with 507 `AGENT_STORAGE_FULL`; 0 turns the check off.
       */
      diskReserveBytes: configInt()
        .min(0)
        .default(8 * 1024 * 1024),
    })
    .prefault({}),
  /**
   * `crash-safe` (SQLite WAL, synchronous=NORMAL): a committed event survives a process crash.
   * `power-safe` (synchronous=FULL): it also survives power loss, at a cost per commit.
   */
  durability: z.enum(['crash-safe', 'power-safe']).default('crash-safe'),
  /** Seconds between unprompted reported-state publications (the desired state may override). */
  reportIntervalS: configInt().min(5).max(86_400).default(60),
  logLevel: LogLevelSchema.default('info'),
  /** Device telemetry and drift summaries. */
  telemetry: TelemetryConfigSchema,
  /** Per-model metrics. */
  metrics: z
    .strictObject({
      /** How often the counted deltas are queued as a `telemetry.model` event, ms. */
      flushIntervalMs: configInt().min(50).max(3_600_000).default(10_000),
    })
    .prefault({}),
  /** Labelled examples kept for federated learning, never uploaded. */
  samples: z
    .strictObject({
      /** Most examples kept, all splits together; default 100 000. */
      maxRows: configInt().min(1).default(100_000),
      /** Most feature bytes kept (4 per float32 value); default 256 MiB. */
      maxBytes: configInt()
        .min(1024)
        .default(256 * 1024 * 1024),
    })
    .prefault({}),
  /** Model delivery from the hub's registry: trusted keys, bandwidth cap. */
  delivery: DeliveryConfigSchema,
  /**
   * Over-the-air updates of the agent itself, under `outpost agent launch`
   * (docs/agent-updates.md). Bundles are downloaded and verified like model artifacts
   * (`delivery` settings and keys).
   */
  update: z
    .strictObject({
      /**
       * How long a new release has to confirm its health (connected, store migrated, engines
       * admitted, outbox draining) before the launcher reverts it, ms; default 120 s.
       */
      confirmTimeoutMs: configInt().min(1000).max(86_400_000).default(120_000),
    })
    .prefault({}),
  /** Models and engines. */
  inference: z
    .strictObject({
      /** Firmware profile name (`firmware-profiles/NAME.json`); detected from the host when absent. */
      profile: z.string().min(1).optional(),
      /** Directory of firmware profiles; the repository's `firmware-profiles/` when absent. */
      profilesDir: z.string().min(1).optional(),
      /** Overrides the profile's onnxruntime intra-op threads. */
      threads: configInt().min(1).max(256).optional(),
      /** Overrides the profile's result-cache byte quota (0 disables the cache). */
      cacheMaxBytes: configInt().min(0).optional(),
      /** Overrides the profile's result time to live, seconds. */
      cacheTtlS: configInt().min(1).optional(),
      /**
       * A model version no engine can warm up without real inputs (no reference, no sample
       * inputs, and no input set made from its metadata runs): `admit` admits the opened
       * session with the reason in its status; `refuse` refuses it until it carries a
       * reference or sample inputs.
       */
      unwarmed: z.enum(UNWARMED_POLICIES).default('admit'),
      /** The hub's HTTP URL for cloud inference, e.g. `http://hub:8080`. */
      hubHttpUrl: z.url({ protocol: /^https?$/ }).optional(),
      /** Hybrid routing per model name (`local` when absent); see `ModelRouteSchema`. */
      routes: z.record(z.string(), ModelRouteSchema).default({}),
    })
    .prefault({}),
});

/** Parsed, frozen agent configuration. */
export type AgentConfig = Readonly<z.output<typeof AgentConfigSchema>>;
export type AgentConfigInput = z.input<typeof AgentConfigSchema>;

/** Env prefix for agent settings. */
export const AGENT_ENV_PREFIX = 'OUTPOST_AGENT_';
