import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  type AgentBundleManifest,
  type BundlePlatform,
  OutpostError,
  platformMismatch,
  verifyAgentBundle,
} from '../../shared/index.js';
import type { SlotName, SlotState, Slots } from './slots.js';
import type { StoreBackup } from './store-backup.js';

const run = promisify(execFile);

/** The platform this process runs on, as bundles name it. */
export function currentPlatform(): BundlePlatform {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)
    ?.header;
  const libc = process.platform !== 'linux' ? 'none' : header?.glibcVersionRuntime ? 'glibc' : 'musl';
  return { os: process.platform, arch: process.arch, libc, nodeAbi: process.versions.modules };
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Checks a downloaded bundle before anything is installed: the manifest's signature against
 * the trusted keys, the file's size and sha256 against the manifest, and its platform against
 * this device's. Returns the manifest; throws `PROTO_UNTRUSTED_KEY`, `PROTO_BAD_SIGNATURE`,
 * `AGENT_ARTIFACT_MISMATCH` or `AGENT_BUNDLE_PLATFORM` naming what differs.
 */
export async function verifyBundleFile(
  file: string,
  signed: unknown,
  trustedKeys: readonly string[],
  platform: BundlePlatform = currentPlatform(),
): Promise<AgentBundleManifest> {
  const manifest = verifyAgentBundle(signed, trustedKeys);
  const { size } = await stat(file);
  const sha256 = await sha256Of(file);
  if (size !== manifest.size || sha256 !== manifest.sha256) {
    throw new OutpostError(
      'AGENT_ARTIFACT_MISMATCH',
      `agent bundle ${manifest.version}: ${size} bytes sha256 ${sha256}, the manifest says ${manifest.size} bytes sha256 ${manifest.sha256}`,
    );
  }
  const mismatch = platformMismatch(manifest.platform, platform);
  if (mismatch)
    throw new OutpostError('AGENT_BUNDLE_PLATFORM', `agent bundle ${manifest.version}: ${mismatch}`);
  return manifest;
}

/** What {@link prepareUpdate} needs. */
export interface PrepareUpdateInput {
  slots: Slots;
  /** The downloaded bundle (a gzipped tar of the packed package and its production dependencies). */
  bundleFile: string;
  signed: unknown;
  trustedKeys: readonly string[];
  /** The store backup to take before the new release can migrate it. */
  store?: StoreBackup;
  /** How long the new release has to confirm its health, ms. */
  confirmMs: number;
  now: number;
  platform?: BundlePlatform;
}

/**
 * Installs a verified bundle into the inactive slot (extracted beside it, then renamed, so a
 * kill leaves either no slot or a whole one), backs up the store, and switches to the slot on
 * trial: the launcher's next start runs it and reverts unless it confirms its health in time.
 */
export async function prepareUpdate(
  input: PrepareUpdateInput,
): Promise<{ slot: SlotName; state: SlotState }> {
  const manifest = await verifyBundleFile(input.bundleFile, input.signed, input.trustedKeys, input.platform);
  const slot = input.slots.inactive();
  const dir = input.slots.dir(slot);
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  await run('tar', ['-xzf', input.bundleFile, '-C', partial, '--no-same-owner']);
  await writeFile(join(partial, 'bundle.json'), `${JSON.stringify(manifest)}\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  input.store?.take();
  return { slot, state: input.slots.beginTrial(manifest.version, input.confirmMs, input.now) };
}
