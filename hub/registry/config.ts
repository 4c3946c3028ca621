import { z } from 'zod';
import { configInt } from '../../shared/index.js';

/** The registry's settings, `registry` in the hub config. */
export const RegistryConfigSchema = z
  .strictObject({
    /** Largest artifact a push may upload, bytes; default 1 GiB. */
    maxArtifactBytes: configInt()
      .positive()
      .default(1024 * 1024 * 1024),
    /**
     * Largest reference run (input + output elements) written into a manifest; default 2048.
     * A bigger model's manifest carries no reference (agents then admit on a warm-up run only),
     * since manifests travel in the desired document (MQTT, 256 KiB by default).
     */
    referenceMaxElements: configInt().min(0).default(2048),
  })
  .prefault({});
export type RegistryConfig = z.output<typeof RegistryConfigSchema>;
