import { z } from 'zod';
import { configBool, configInt } from '../../shared/index.js';

/**
 * `federated` of the hub config. Env `OUTPOST_HUB_FEDERATED__RETENTION__KEEP_ROUNDS`, …;
 * flags `--federated.retention.keep-rounds 5`.
 */
export const FederatedConfigSchema = z
  .strictObject({
    /**
     * What the store keeps of finished rounds (hub/federated/retention.ts). Update bytes of
     * decided updates and of ended rounds are deleted (unless `keepUpdateBytes`); the
     * accounting rows (rounds, update outcomes, evaluations) are always kept.
     */
    retention: z
      .strictObject({
        /**
         * Global weights kept per task: the models of the latest N rounds (the newest is the
         * one the current round starts from), besides the best round's model and any round a
         * device's desired state still references; default 5.
         */
        keepRounds: configInt().min(1).max(1_000_000).default(5),
        /** Most rows one prune statement deletes (short transactions on a large backlog); default 200. */
        batchRows: configInt().min(1).max(100_000).default(200),
        /**
         * Keep every update's bytes (chunks, upload parts) after its round, e.g. to audit what
         * devices sent; the store then grows with every update. Default false.
         */
        keepUpdateBytes: configBool().default(false),
      })
      .prefault({}),
  })
  .prefault({});
export type FederatedConfig = z.output<typeof FederatedConfigSchema>;
/** `federated.retention` of the hub config. */
export type FlRetentionConfig = FederatedConfig['retention'];
