import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { type DriftBaseline, DriftBaselineSchema, formatIssues } from '../../shared/index.js';

/**
 * Drift baselines per model version, one JSON file each under
 * `{dataDir}/drift-baselines/`, written atomically (temp file + rename). Files that fail
 * the schema at load are skipped with a `warn`. Replicas sharing a data volume (the k8s
 * PVC) share the files; each reads them at start.
 */
export class BaselineStore {
  readonly #dir: string;
  readonly #byKey = new Map<string, DriftBaseline>();

  constructor(dataDir: string, log: Logger) {
    this.#dir = join(dataDir, 'drift-baselines');
    mkdirSync(this.#dir, { recursive: true });
    for (const file of readdirSync(this.#dir).filter((f) => f.endsWith('.json'))) {
      try {
        const parsed = DriftBaselineSchema.safeParse(JSON.parse(readFileSync(join(this.#dir, file), 'utf8')));
        if (parsed.success) this.#byKey.set(baselineKey(parsed.data.model, parsed.data.version), parsed.data);
        else log.warn({ file, problems: formatIssues(parsed.error) }, 'drift baseline file skipped');
      } catch (err) {
        log.warn({ file, err }, 'drift baseline file unreadable, skipped');
      }
    }
  }

  get(model: string, version: string): DriftBaseline | undefined {
    return this.#byKey.get(baselineKey(model, version));
  }

  list(): DriftBaseline[] {
    return [...this.#byKey.values()];
  }

  /** Stores (replacing) the baseline of its model version. */
  put(baseline: DriftBaseline): void {
    const file = join(this.#dir, `${encodeURIComponent(baseline.model)}@${baseline.version}.json`);
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(baseline)}\n`);
    renameSync(temp, file);
    this.#byKey.set(baselineKey(baseline.model, baseline.version), baseline);
  }
}

/** Map key of a model version. */
export function baselineKey(model: string, version: string): string {
  return `${model}@${version}`;
}
