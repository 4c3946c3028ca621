import { z } from 'zod';

/**
 * `broker` of the hub config. With `url`, the hub connects to an existing
 * broker (Mosquitto, EMQX) as a client instead of embedding aedes. Env
 * `OUTPOST_HUB_BROKER__URL`, `OUTPOST_HUB_BROKER__PASSWORD`; flag `--broker mqtt://host:port`
 * (the CLI maps it to `broker.url`).
 */
export const BrokerConfigSchema = z
  .strictObject({
    /** `mqtt://host:port` or `mqtts://host:port` of the external broker; absent = embedded aedes. */
    url: z
      .string()
      .regex(/^(mqtt|mqtts|ws|wss):\/\//, 'must be an mqtt://, mqtts://, ws:// or wss:// URL')
      .optional(),
    /** The hub's broker user, with rights on every device topic (see `broker-config`). */
    username: z.string().min(1).default('outpost-hub'),
    /** Its password; required with `url`. Never logged. */
    password: z.string().min(16, 'broker password must be at least 16 characters').optional(),
    /**
     * Shared-subscription group: every replica subscribes `$share/{group}/outpost/v1/d/+/up`
     * (and `state`, `ping`), so the broker hands each message to one replica only. It is a
     * secret: a device that knew it could join the group and take messages away from the hub.
     * Default: derived from `password` (see `shareGroupName`), so replicas sharing the
     * password agree without storing anything.
     */
    shareGroup: z
      .string()
      .regex(/^[A-Za-z0-9_-]{16,64}$/, 'must be 16-64 of [A-Za-z0-9_-] (a secret: random, not a word)')
      .optional(),
    /**
     * Directory where the hub keeps the broker's `passwd`, `acl` and `mosquitto.conf`
     * up to date (written at start and after every enrollment); absent = not written (use
     * `outpost hub broker-config --out DIR`). Mosquitto rereads them on SIGHUP.
     */
    authDir: z.string().min(1).optional(),
  })
  .prefault({})
  .refine((b) => b.url === undefined || b.password !== undefined, {
    message: 'broker.password is required with broker.url',
    path: ['password'],
  });

/** Parsed `broker` section. */
export type BrokerConfig = z.output<typeof BrokerConfigSchema>;
