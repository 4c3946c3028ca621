import { z } from 'zod';
import { configInt } from '../../shared/index.js';

const ratio = () => z.coerce.number<unknown>().positive().max(10);

/**
 * `drift` of the hub config. Env `OUTPOST_HUB_DRIFT__PSI_ALERT`, …; flags
 * `--drift.psi-alert 0.25`.
 */
export const DriftConfigSchema = z
  .strictObject({
    /** PSI at or above which a model version drifts (alert, gate input); default 0.2. */
    psiAlert: ratio().default(0.2),
    /** KS statistic at or above which it drifts; default 0.2. */
    ksAlert: ratio().default(0.2),
    /** Fewest inferences in the window before any verdict; default 200. */
    minRows: configInt().min(1).default(200),
    /** How far back device summaries count, ms; default 1 h. */
    windowMs: configInt().min(1000).default(3_600_000),
  })
  .prefault({});
export type DriftConfig = z.output<typeof DriftConfigSchema>;
