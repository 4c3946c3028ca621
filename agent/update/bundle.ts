import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  AGENT_BUNDLE_INFO_FILE,
  type AgentBundleInfo,
  AgentBundleInfoSchema,
  type AgentBundleManifest,
  type BundlePlatform,
  currentPlatform,
  OutpostError,
  platformMismatch,
  verifyAgentBundle,
} from '../../shared/index.js';

export { currentPlatform } from '../../shared/index.js';

import type { SlotName, SlotState, Slots } from './slots.js';
import type { StoreBackup } from './store-backup.js';

const run = promisify(execFile);

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
 * Verifies a bundle and unpacks it into the inactive slot: extracted beside it, `bundle.json`
 * (its manifest) written last, then renamed into place, so a kill leaves either no slot or a
 * whole one ({@link Slots.holds}). Nothing is switched. Returns the slot and the manifest.
 */
export async function installBundle(
  input: Pick<PrepareUpdateInput, 'slots' | 'bundleFile' | 'signed' | 'trustedKeys' | 'platform'>,
): Promise<{ slot: SlotName; manifest: AgentBundleManifest }> {
  const manifest = await verifyBundleFile(input.bundleFile, input.signed, input.trustedKeys, input.platform);
  const slot = input.slots.inactive();
  const dir = input.slots.dir(slot);
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  await run('tar', ['-xzf', input.bundleFile, '-C', partial, '--no-same-owner']);
  const info = await readSlotInfo(partial);
  if (info !== undefined && info.version !== manifest.version)
    throw new OutpostError(
      'AGENT_MANIFEST_MISMATCH',
      `the bundle holds agent ${info.version}, its signed manifest says ${manifest.version}`,
    );
  await writeFile(join(partial, 'bundle.json'), `${JSON.stringify(manifest)}\n`);
  await syncPath(join(partial, 'bundle.json'));
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  await syncPath(input.slots.root);
  return { slot, manifest };
}

/**
 * Installs a verified bundle into the inactive slot ({@link installBundle}), backs up the
 * store, and switches to the slot on trial: the launcher's next start runs it and reverts
 * unless it confirms its health in time.
 */
export async function prepareUpdate(
  input: PrepareUpdateInput,
): Promise<{ slot: SlotName; state: SlotState }> {
  const { slot, manifest } = await installBundle(input);
  input.store?.take();
  return { slot, state: input.slots.beginTrial(manifest.version, input.confirmMs, input.now) };
}

/**
 * The `outpost-bundle.json` of an unpacked bundle; undefined without one (such a bundle runs
 * the default entry). Throws `AGENT_MANIFEST_MISMATCH` when it is invalid.
 */
export async function readSlotInfo(dir: string): Promise<AgentBundleInfo | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, AGENT_BUNDLE_INFO_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: ReturnType<typeof AgentBundleInfoSchema.safeParse>;
  try {
    parsed = AgentBundleInfoSchema.safeParse(JSON.parse(text));
  } catch (err) {
    throw new OutpostError('AGENT_MANIFEST_MISMATCH', `${AGENT_BUNDLE_INFO_FILE}: ${(err as Error).message}`);
  }
  if (!parsed.success)
    throw new OutpostError('AGENT_MANIFEST_MISMATCH', `${AGENT_BUNDLE_INFO_FILE}: ${parsed.error.message}`);
  return parsed.data;
}

/** fsync of a file or directory (a directory some filesystems refuse: the rename is atomic anyway). */
async function syncPath(path: string): Promise<void> {
  try {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort
  }
}
