import type { BundlePlatform, SignedAgentBundle } from '../../shared/index.js';

/** One registered agent bundle: a release built for one platform, signed by the hub. */
export interface AgentBundleRecord {
  version: string;
  platform: BundlePlatform;
  /** The bundle's SHA-256 (content address under `{dataDir}/artifacts`). */
  sha256: string;
  /** Bytes. */
  size: number;
  signed: SignedAgentBundle;
  /** Hub wall clock at registration, ms. */
  createdAt: number;
}

/**
 * Agent bundles in the registry, part of every hub store backend (`agent-bundles.ts`).
 * A release has one bundle per platform.
 */
export interface AgentBundleStore {
  /** Records a bundle. Throws `HUB_AGENT_BUNDLE_EXISTS` when the release has one for that platform. */
  putAgentBundle(record: AgentBundleRecord): Promise<AgentBundleRecord>;
  /** Every bundle (of one release when `version` is given), by release then platform. */
  listAgentBundles(version?: string): Promise<AgentBundleRecord[]>;
  /** Deletes a release's bundles (of one platform when given); how many were deleted. */
  deleteAgentBundles(version: string, platform?: string): Promise<number>;
}
