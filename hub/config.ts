import { z } from 'zod';
import {
  configInt,
  DEFAULT_MAX_PAYLOAD_BYTES,
  LogLevelSchema,
  MQTT_URL_LIST,
  SemverSchema,
} from '../shared/index.js';
import { BrokerConfigSchema } from './bus/mqtt-config.js';
import { DriftConfigSchema } from './drift/config.js';
import { EventsConfigSchema } from './events/config.js';
import { FederatedConfigSchema } from './federated/config.js';
import { RegistryConfigSchema } from './registry/config.js';
import { RolloutsConfigSchema } from './rollouts/config.js';
import { LimitsConfigSchema } from './security/config.js';
import { StoreConfigSchema } from './store/postgres-config.js';
import { TlsConfigSchema } from './tls-config.js';

const port = () => configInt().min(0).max(65_535);

/**
 * The hub's configuration. Sources, later winning: `--config FILE` (JSON), env
 * `OUTPOST_HUB_*` (`__` nests), flags (`--http.port 0`). Port 0 picks a free port.
 */
export const HubConfigSchema = z.strictObject({
  /** Directory for the SQLite store, the admin token and (later) keys and artifacts. */
  dataDir: z.string().min(1).default('./outpost-hub-data'),
  /** Store backend: SQLite by default, PostgreSQL with `store.url`. */
  store: StoreConfigSchema,
  /** External MQTT broker or NATS cluster; absent `broker.url` = the embedded aedes broker. */
  broker: BrokerConfigSchema,
  /** Rate limits against hostile or runaway clients. */
  limits: LimitsConfigSchema,
  /** MQTT over TLS and client certificates. */
  tls: TlsConfigSchema,
  /**
   * The URLs remote devices reach the hub at, put in join tokens and enrollment answers (the
   * listeners' own addresses, e.g. 0.0.0.0 or 127.0.0.1, are useless to a remote device).
   * Absent: the listeners' addresses. `mqttUrl` may list several nodes, comma-separated (a NATS
   * cluster's MQTT listeners): agents fail over down the list.
   */
  public: z
    .strictObject({
      mqttUrl: z
        .string()
        .regex(MQTT_URL_LIST, 'must be an mqtt://, mqtts://, ws:// or wss:// URL, or a comma-separated list')
        .optional(),
      httpUrl: z.url({ protocol: /^https?$/ }).optional(),
    })
    .prefault({}),
  http: z
    .strictObject({
      host: z.string().min(1).default('0.0.0.0'),
      /** HTTP API, dashboard and MQTT-over-WebSocket; default 8080. */
      port: port().default(8080),
      /** Path of the MQTT-over-WebSocket endpoint on the HTTP port. */
      wsPath: z.string().startsWith('/').default('/mqtt'),
      /** Largest accepted request body, bytes; default 1 MiB. */
      bodyLimitBytes: configInt()
        .positive()
        .default(1024 * 1024),
    })
    .prefault({}),
  mqtt: z
    .strictObject({
      host: z.string().min(1).default('0.0.0.0'),
      /** Embedded broker's MQTT/TCP port; default 1883. */
      port: port().default(1883),
      /** Largest accepted MQTT payload, bytes; larger ones are counted and dropped. */
      maxPayloadBytes: configInt().positive().default(DEFAULT_MAX_PAYLOAD_BYTES),
    })
    .prefault({}),
  /**
   * Bearer token for the admin API (at least 16 characters). When absent the hub reads
   * `{dataDir}/admin-token`, creating it (mode 0600) with a random token on first start.
   */
  adminToken: z.string().min(16, 'admin token must be at least 16 characters').optional(),
  logLevel: LogLevelSchema.default('info'),
  /** Drift detection thresholds and window. */
  drift: DriftConfigSchema,
  /** Model registry: artifact size limit, reference size. */
  registry: RegistryConfigSchema,
  /** Rollout driver: `tickMs`. */
  rollouts: RolloutsConfigSchema,
  /** Federated learning: what the store keeps of finished rounds (`retention`). */
  federated: FederatedConfigSchema,
  /** Uplink events: how long delivered, consumed events are kept (`retention`; default forever). */
  events: EventsConfigSchema,
  /**
   * Models served by `POST /v1/infer/NAME` (hybrid routing): these, plus
   * every `{dataDir}/models/NAME.onnx`.
   */
  inference: z
    .strictObject({
      models: z
        .array(
          z.strictObject({
            name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be 1-64 of [a-z0-9._-]'),
            /** An `.onnx` file or a TF.js `model.json`. */
            file: z.string().min(1),
            version: SemverSchema.optional(),
          }),
        )
        .default([]),
      /** onnxruntime intra-op threads per hub model; default 1. */
      threads: configInt().min(1).max(256).default(1),
    })
    .prefault({}),
});

/** Parsed, frozen hub configuration. */
export type HubConfig = Readonly<z.output<typeof HubConfigSchema>>;
/** What a caller may pass in (defaults filled in by the schema). */
export type HubConfigInput = z.input<typeof HubConfigSchema>;

/** Env prefix for hub settings. */
export const HUB_ENV_PREFIX = 'OUTPOST_HUB_';
