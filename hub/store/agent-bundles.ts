import { formatPlatform, OutpostError, SignedAgentBundleSchema } from '../../shared/index.js';
import type { AgentBundleRecord } from './agent-bundle-types.js';
import type { Sql } from './sql/seam.js';
import type { HubStore } from './types.js';

interface BundleRow {
  version: string;
  platform: string;
  sha256: string;
  size: number | string;
  signed: string;
  created_at: number | string;
}

/** The agent-bundle methods of {@link HubStore}. */
export type AgentBundleArea = Pick<HubStore, 'putAgentBundle' | 'listAgentBundles' | 'deleteAgentBundles'>;

function record(row: BundleRow): AgentBundleRecord {
  const signed = SignedAgentBundleSchema.parse(JSON.parse(row.signed));
  return {
    version: row.version,
    platform: signed.manifest.platform,
    sha256: row.sha256,
    size: Number(row.size),
    signed,
    createdAt: Number(row.created_at),
  };
}

/** Agent bundles of the registry: one row per (release, platform), with its signed manifest. */
export function agentBundleArea(db: Sql): AgentBundleArea {
  return {
    async putAgentBundle(r) {
      const platform = formatPlatform(r.platform);
      try {
        await db.run(
          `INSERT INTO agent_bundles (version, platform, sha256, size, signed, created_at)
           VALUES (?, ?, ?, ?, ?, ?)`,
          [r.version, platform, r.sha256, r.size, JSON.stringify(r.signed), r.createdAt],
        );
      } catch (err) {
        if (db.dialect.isUniqueViolation(err))
          throw new OutpostError(
            'HUB_AGENT_BUNDLE_EXISTS',
            `agent ${r.version} already has a bundle for ${platform}; push another release`,
          );
        throw err;
      }
      return r;
    },
    async listAgentBundles(version) {
      const rows =
        version === undefined
          ? await db.all<BundleRow>('SELECT * FROM agent_bundles ORDER BY created_at, version, platform')
          : await db.all<BundleRow>('SELECT * FROM agent_bundles WHERE version = ? ORDER BY platform', [
              version,
            ]);
      return rows.map(record);
    },
    async deleteAgentBundles(version, platform) {
      return platform === undefined
        ? db.run('DELETE FROM agent_bundles WHERE version = ?', [version])
        : db.run('DELETE FROM agent_bundles WHERE version = ? AND platform = ?', [version, platform]);
    },
  };
}
