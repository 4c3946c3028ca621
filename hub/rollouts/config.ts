import { z } from 'zod';
import { configInt } from '../../shared/index.js';

/** Rollout driver settings, `rollouts` in the hub config. */
export const RolloutsConfigSchema = z
  .strictObject({
    /** Period of the driver loop (fold metrics, step every running rollout), ms; default 1000. */
    tickMs: configInt().min(20).max(600_000).default(1000),
  })
  .prefault({});
export type RolloutsConfig = z.output<typeof RolloutsConfigSchema>;
