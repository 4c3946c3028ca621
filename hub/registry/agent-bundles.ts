import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import {
  type AgentBundleManifest,
  formatPlatform,
  OutpostError,
  SemverSchema,
  signAgentBundle,
} from '../../shared/index.js';
import type { AgentBundleRecord } from '../store/agent-bundle-types.js';
import type { HubStore } from '../store/types.js';
import type { ArtifactStore } from './artifact-store.js';
import { readBundleInfo } from './bundle-info.js';
import type { HubSigningKey } from './signing-key.js';

/** Says why an agent release must not be deleted (a live rollout uses it), or nothing. */
export type AgentReferenceCheck = (version: string) => Promise<string | undefined>;

/**
 * Agent releases in the hub's registry (docs/agent-updates.md): each is a bundle per
 * platform (the packed package plus its production dependencies), stored content-addressed
 * beside the model artifacts and described by a manifest the hub signs with its registry key,
 * as it signs model manifests. Devices download them from `/v1/artifacts/{sha256}` once their
 * desired state names them.
 */
export interface AgentBundleRegistry {
  /**
   * A streamed upload: stored (size limit, optional sha check), its `outpost-bundle.json`
   * read for the release and platform, the manifest signed and recorded. Pushing the same
   * bytes again answers the existing record. Throws `HUB_AGENT_BUNDLE_INVALID`,
   * `HUB_AGENT_BUNDLE_EXISTS` (another bundle for that release and platform),
   * `PROTO_PAYLOAD_TOO_LARGE`, `HUB_ARTIFACT_MISMATCH`.
   */
  push(body: Readable, options?: { expectedSha256?: string | undefined }): Promise<AgentBundleRecord>;
  /** Every bundle (of one release when given), oldest release first. */
  list(version?: string): Promise<AgentBundleRecord[]>;
  /** The bundles of one release; throws `HUB_AGENT_BUNDLE_NOT_FOUND` when it has none. */
  get(version: string): Promise<AgentBundleRecord[]>;
  /**
   * Deletes a release's bundles (one platform's when given) and their artifacts. Refused with
   * `HUB_AGENT_BUNDLE_IN_USE` while a desired state or a reference check names the release.
   */
  delete(version: string, platform?: string): Promise<number>;
  addReferenceCheck(check: AgentReferenceCheck): void;
}

/** What {@link createAgentBundleRegistry} needs. */
export interface AgentBundleRegistryDeps {
  store: HubStore;
  artifacts: ArtifactStore;
  /** The registry's signing key in force (it may rotate). */
  signingKey: () => HubSigningKey;
  maxArtifactBytes: number;
  now: () => number;
  log: Logger;
}

/** Builds the {@link AgentBundleRegistry}. */
export function createAgentBundleRegistry(deps: AgentBundleRegistryDeps): AgentBundleRegistry {
  const { store, artifacts, log } = deps;
  const checks: AgentReferenceCheck[] = [];

  const get: AgentBundleRegistry['get'] = async (version) => {
    const bundles = await store.listAgentBundles(version);
    if (bundles.length === 0)
      throw new OutpostError('HUB_AGENT_BUNDLE_NOT_FOUND', `agent ${version} has no bundle in the registry`);
    return bundles;
  };

  return {
    async push(body, options = {}) {
      const stored = await artifacts.put(body, {
        maxBytes: deps.maxArtifactBytes,
        ...(options.expectedSha256 !== undefined ? { expectedSha256: options.expectedSha256 } : {}),
      });
      try {
        const info = await readBundleInfo(artifacts.pathOf(stored.sha256));
        const same = (await store.listAgentBundles(info.version)).find(
          (b) => formatPlatform(b.platform) === formatPlatform(info.platform),
        );
        if (same?.sha256 === stored.sha256) return same;
        const manifest: AgentBundleManifest = {
          kind: 'agent',
          version: info.version,
          sha256: stored.sha256,
          size: stored.size,
          platform: info.platform,
          createdAt: deps.now(),
        };
        const record = await store.putAgentBundle({
          version: info.version,
          platform: info.platform,
          sha256: stored.sha256,
          size: stored.size,
          signed: signAgentBundle(manifest, deps.signingKey().keys),
          createdAt: manifest.createdAt,
        });
        log.info(
          {
            version: info.version,
            platform: formatPlatform(info.platform),
            sha256: stored.sha256,
            size: stored.size,
          },
          'agent bundle registered',
        );
        return record;
      } catch (err) {
        if (!(await store.artifactInUse(stored.sha256))) await artifacts.delete(stored.sha256);
        throw err;
      }
    },
    list: (version) => store.listAgentBundles(version),
    get,
    async delete(version, platform) {
      if (!SemverSchema.safeParse(version).success)
        throw new OutpostError('HUB_BAD_REQUEST', `${version} is not a release version`);
      const bundles = (await get(version)).filter(
        (b) => platform === undefined || formatPlatform(b.platform) === platform,
      );
      if (bundles.length === 0)
        throw new OutpostError(
          'HUB_AGENT_BUNDLE_NOT_FOUND',
          `agent ${version} has no bundle for ${platform}`,
        );
      const reasons: string[] = [];
      const devices = (await store.listDesired())
        .filter(({ desired }) => desired.agent?.version === version)
        .map((d) => d.deviceId);
      if (devices.length > 0)
        reasons.push(
          `desired state of ${devices.length} device(s) (${devices.slice(0, 5).join(', ')}${devices.length > 5 ? ', …' : ''})`,
        );
      const live = (await store.listRollouts()).filter(
        (r) =>
          r.spec.target === 'agent' &&
          r.spec.version === version &&
          (r.state === 'running' || r.state === 'paused'),
      );
      if (live.length > 0) reasons.push(`rollout ${live.map((r) => `${r.id} (${r.state})`).join(', ')}`);
      for (const check of checks) {
        const reason = await check(version);
        if (reason !== undefined) reasons.push(reason);
      }
      if (reasons.length > 0)
        throw new OutpostError(
          'HUB_AGENT_BUNDLE_IN_USE',
          `agent ${version} cannot be deleted: referenced by ${reasons.join('; ')}`,
          { details: { devices, reasons } },
        );
      const deleted = await store.deleteAgentBundles(version, platform);
      for (const b of bundles) if (!(await store.artifactInUse(b.sha256))) await artifacts.delete(b.sha256);
      log.info({ version, platform, deleted }, 'agent bundles deleted');
      return deleted;
    },
    addReferenceCheck(check) {
      checks.push(check);
    },
  };
}
