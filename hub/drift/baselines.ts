import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { DriftBaselineSchema, formatIssues } from '../../shared/index.js';
import type { TelemetryStore } from '../store/telemetry-types.js';

/** Where hubs before the store kept drift baselines: one JSON file per model version. */
export const BASELINE_FILES_DIR = 'drift-baselines';

/**
 * Drift baselines live in the hub store (`drift_baselines`), so every replica serves the same
 * edges and judges drift against the same reference. Hubs of earlier releases kept them as
 * files under `{dataDir}/drift-baselines/`: at start, each valid file whose model version has
 * no baseline in the store, or an older one, is copied in (the files are left as they are; a
 * file failing the schema is skipped with a `warn`). Returns how many were copied.
 */
export async function importBaselineFiles(
  dataDir: string,
  store: TelemetryStore,
  log: Logger,
): Promise<number> {
  const dir = join(dataDir, BASELINE_FILES_DIR);
  if (!existsSync(dir)) return 0;
  let imported = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    try {
      const parsed = DriftBaselineSchema.safeParse(JSON.parse(readFileSync(join(dir, file), 'utf8')));
      if (!parsed.success) {
        log.warn({ file, problems: formatIssues(parsed.error) }, 'drift baseline file skipped');
        continue;
      }
      const baseline = parsed.data;
      const stored = await store.getDriftBaseline(baseline.model, baseline.version);
      if (stored !== undefined && stored.createdAt >= baseline.createdAt) continue;
      await store.putDriftBaseline(baseline);
      imported++;
    } catch (err) {
      log.warn({ file, err }, 'drift baseline file unreadable, skipped');
    }
  }
  if (imported > 0) log.info({ imported, dir }, 'drift baselines copied from files into the store');
  return imported;
}
