import { z } from 'zod';

/** `nats://host:port[,nats://host:port…]`: a NATS cluster's client URLs. */
const NATS_URLS = /^nats:\/\/[^\s,]+(,nats:\/\/[^\s,]+)*$/;

/** A list from a JSON array or a comma-separated env/flag value. */
const listOf = (pattern: RegExp, message: string) =>
  z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s !== '')
        : v,
    z.array(z.string().regex(pattern, message)),
  );

/**
 * `broker` of the hub config. With `url`, the hub connects to an existing
 * broker (Mosquitto, EMQX) as a client instead of embedding aedes; with `nats://` URLs, to a
 * NATS cluster (docs/scale-out.md "NATS"). Env `OUTPOST_HUB_BROKER__URL`,
 * `OUTPOST_HUB_BROKER__PASSWORD`; flag `--broker mqtt://host:port` or
 * `--broker nats://host:port[,nats://…]` (the CLI maps it to `broker.url`).
 */
export const BrokerConfigSchema = z
  .strictObject({
    /**
     * `mqtt://host:port` or `mqtts://host:port` of the external broker, or
     * `nats://host:port[,nats://host:port…]` of a NATS cluster's nodes; absent = embedded aedes.
     */
    url: z
      .string()
      .refine(
        (u) => /^(mqtt|mqtts|ws|wss):\/\//.test(u) || NATS_URLS.test(u),
        'must be an mqtt://, mqtts://, ws:// or wss:// URL, or nats://host:port[,nats://host:port…]',
      )
      .optional(),
    /**
     * NATS only: the MQTT listeners of the cluster's nodes, where the hub publishes retained
     * desired state and reads retained statuses (failing over down the list) and, unless
     * `public.mqttUrl` says otherwise, where devices connect. Default: each `nats://` host on
     * port 1883 (what `outpost hub broker-config --broker nats` generates).
     */
    mqttUrls: listOf(/^mqtts?:\/\/[^\s,]+$/, 'must be mqtt:// or mqtts:// URLs').optional(),
    /**
     * NATS only: PID files (or PIDs) of nats-server nodes on this machine, signalled to reload
     * (SIGHUP, as `nats-server --signal reload=PIDFILE`) after the hub rewrote
     * `{authDir}/auth.conf`. Nodes elsewhere need a watcher that reloads them on the file's change.
     */
    reload: listOf(/^\S+$/, 'must be PID files or PIDs').default([]),
    /** The hub's broker user, with rights on every device topic (see `broker-config`). */
    username: z.string().min(1).default('outpost-hub'),
    /** Its password; required with `url`. Never logged. */
    password: z.string().min(16, 'broker password must be at least 16 characters').optional(),
    /**
     * Shared-subscription group: every replica subscribes `$share/{group}/outpost/v1/d/+/up`
     * (and `state`, `ping`), so the broker hands each message to one replica only. It is a
     * secret: a device that knew it could join the group and take messages away from the hub.
     * Default: derived from `password` (see `shareGroupName`), so replicas sharing the
     * password agree without storing anything. On NATS it names the replicas' queue group
     * (devices may not subscribe to the uplink subjects there at all).
     */
    shareGroup: z
      .string()
      .regex(/^[A-Za-z0-9_-]{16,64}$/, 'must be 16-64 of [A-Za-z0-9_-] (a secret: random, not a word)')
      .optional(),
    /**
     * Directory where the hub keeps the broker's `passwd`, `acl` and `mosquitto.conf`
     * up to date (written at start and after every enrollment); absent = not written (use
     * `outpost hub broker-config --out DIR`). Mosquitto rereads them on SIGHUP. With NATS, the
     * hub keeps `auth.conf` (users and permissions) there and signals `reload`.
     */
    authDir: z.string().min(1).optional(),
  })
  .prefault({})
  .refine((b) => b.url === undefined || b.password !== undefined, {
    message: 'broker.password is required with broker.url',
    path: ['password'],
  });

/** Whether `broker.url` names a NATS cluster. */
export function isNatsBroker(config: Pick<BrokerConfig, 'url'>): boolean {
  return config.url?.startsWith('nats://') ?? false;
}

/** The NATS nodes' MQTT URLs: `broker.mqttUrls`, else each `nats://` host on port 1883. */
export function natsMqttUrls(config: Pick<BrokerConfig, 'url' | 'mqttUrls'>): string[] {
  if (config.mqttUrls !== undefined && config.mqttUrls.length > 0) return config.mqttUrls;
  return (config.url ?? '').split(',').map((u) => `mqtt://${new URL(u).hostname}:1883`);
}

/** Parsed `broker` section. */
export type BrokerConfig = z.output<typeof BrokerConfigSchema>;
