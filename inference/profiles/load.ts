import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type FirmwareProfile,
  FirmwareProfileSchema,
  formatIssues,
  OutpostError,
} from '../../shared/index.js';

/**
 * The repository's `firmware-profiles/` directory: found by walking up from this module, so
 * it is the same from the TypeScript sources and from `dist/`.
 */
export function defaultProfilesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'firmware-profiles');
    if (existsSync(join(candidate, 'x86-64-cpu.json'))) return candidate;
    dir = dirname(dir);
  }
  throw new OutpostError('AGENT_CONFIG_INVALID', 'firmware-profiles/ not found above the inference module');
}

/**
 * Reads and validates every `*.json` profile in `dir`. A malformed profile is an error
 * naming the file and every `path: problem` (never skipped silently); so is a file whose
 * `name` differs from its file name.
 */
export function loadProfiles(dir: string = defaultProfilesDir()): FirmwareProfile[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  return files.map((file) => {
    const path = join(dir, file);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new OutpostError('AGENT_CONFIG_INVALID', `firmware profile ${path}: ${(err as Error).message}`);
    }
    const parsed = FirmwareProfileSchema.safeParse(json);
    if (!parsed.success) {
      const problems = formatIssues(parsed.error);
      throw new OutpostError('AGENT_CONFIG_INVALID', `firmware profile ${path}: ${problems.join('; ')}`, {
        details: problems,
      });
    }
    if (`${parsed.data.name}.json` !== file) {
      throw new OutpostError(
        'AGENT_CONFIG_INVALID',
        `firmware profile ${path} is named "${parsed.data.name}"`,
      );
    }
    return parsed.data;
  });
}
