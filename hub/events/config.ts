import { z } from 'zod';
import { configInt } from '../../shared/index.js';

const days = () => configInt().min(1).max(100_000);

/**
 * `events` of the hub config. Env `OUTPOST_HUB_EVENTS__RETENTION__MAX_AGE_DAYS`, …;
 * flags `--events.retention.max-age-days 90`.
 */
export const EventsConfigSchema = z
  .strictObject({
    /**
     * What the store keeps of delivered events (hub/events/retention.ts). Nothing is deleted
     * unless a limit is set: deleting delivered data is the operator's choice. An event goes
     * only once it is older than its lane's limit (by the hub's receipt time) and every reader
     * has consumed it; high-water marks, the loss ledger and devices are never touched.
     */
    retention: z
      .strictObject({
        /** Days an event is kept after the hub received it, every lane; default unset (kept forever). */
        maxAgeDays: days().optional(),
        /** A lane's own limit in days, instead of `maxAgeDays` (also when that is unset). */
        lanes: z
          .strictObject({
            control: days().optional(),
            results: days().optional(),
            telemetry: days().optional(),
            learning: days().optional(),
          })
          .prefault({}),
        /** Most events one delete batch looks at (short transactions on a large backlog); default 500. */
        batchRows: configInt().min(1).max(100_000).default(500),
        /** Minutes between passes (one also runs when a hub starts driving them); default 60. */
        intervalMinutes: configInt().min(1).max(100_000).default(60),
      })
      .prefault({}),
  })
  .prefault({});
export type EventsConfig = z.output<typeof EventsConfigSchema>;
/** `events.retention` of the hub config. */
export type EventRetentionConfig = EventsConfig['retention'];
