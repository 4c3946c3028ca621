import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { artifactSource } from '../../inference/index.js';
import { type Manifest, OutpostError } from '../../shared/index.js';
import type { ModelFiles } from '../inference/model-files.js';
import type { ModelStore } from '../inference/model-store.js';
import type { DeliveryStore } from '../store/delivery-store.js';
import { assertFreeDisk, sha256File } from './checks.js';
import type { DeliveryConfig } from './config.js';
import { downloadArtifact } from './download.js';

/** What {@link fetchAndInstall} needs. */
export interface InstallContext {
  dataDir: string;
  hubHttpUrl: string;
  authorization: string;
  config: DeliveryConfig;
  models: ModelStore;
  files: ModelFiles;
  store: DeliveryStore;
  /** The profile's quota on installed artifacts, bytes. */
  modelsMaxBytes: number;
  log: Logger;
  now: () => number;
  /** `fetch` to the hub over TLS; the global one when absent. */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

/** Staging file of an artifact download. */
export function stagingFile(dataDir: string, sha256: string): string {
  return join(dataDir, 'delivery', 'staging', `${sha256}.part`);
}

/**
 * Makes one variant installed: nothing when it already is; else checks the
 * models quota and free disk, downloads (resuming), verifies size and SHA-256 against the
 * signed manifest (a mismatch deletes the staged bytes: the next try starts over), unpacks
 * and stores it content-addressed. Throws `INFER_STORAGE_FULL`, `AGENT_DISK_FULL`,
 * `AGENT_ARTIFACT_MISMATCH`, `AGENT_MANIFEST_MISMATCH`, `AGENT_DOWNLOAD_FAILED`.
 */
export async function fetchAndInstall(
  ctx: InstallContext,
  manifest: Manifest,
  options: { signal: AbortSignal; onProgress(bytes: number): void },
): Promise<{ downloaded: boolean }> {
  const { models } = ctx;
  if (models.variants(manifest.name, manifest.version).some((v) => v.manifest.sha256 === manifest.sha256)) {
    return { downloaded: false };
  }
  const known = models.list().some((m) => m.manifest.sha256 === manifest.sha256);
  const used = models.totalBytes();
  if (!known && used + manifest.size > ctx.modelsMaxBytes) {
    throw new OutpostError(
      'INFER_STORAGE_FULL',
      `installing ${manifest.size} bytes would exceed the models quota: ${used} of ${ctx.modelsMaxBytes} bytes used`,
    );
  }
  const file = stagingFile(ctx.dataDir, manifest.sha256);
  const staged = ctx.store.download(manifest.sha256)?.bytes ?? 0;
  // Room for the rest of the download and for the installed copy.
  await assertFreeDisk(ctx.dataDir, manifest.size - staged + manifest.size);
  const result = await downloadArtifact({
    url: new URL(`/v1/artifacts/${manifest.sha256}`, ctx.hubHttpUrl).toString(),
    authorization: ctx.authorization,
    name: manifest.name,
    version: manifest.version,
    sha256: manifest.sha256,
    size: manifest.size,
    file,
    store: ctx.store,
    bandwidthBps: ctx.config.bandwidthBytesPerS,
    checkpointBytes: ctx.config.checkpointBytes,
    onProgress: options.onProgress,
    signal: options.signal,
    now: ctx.now,
    ...(ctx.fetch ? { fetch: ctx.fetch } : {}),
  });
  const discard = async () => {
    ctx.store.dropDownload(manifest.sha256);
    await rm(file, { force: true });
  };
  const size = (await stat(file)).size;
  const sha256 = await sha256File(file);
  if (size !== manifest.size || sha256 !== manifest.sha256) {
    await discard();
    throw new OutpostError(
      'AGENT_ARTIFACT_MISMATCH',
      `artifact of ${manifest.name}@${manifest.version} has ${size} bytes hashing to ${sha256}; the signed manifest says ${manifest.size} bytes, ${manifest.sha256}`,
    );
  }
  const source = artifactSource(await readFile(file));
  if (source.format !== manifest.format) {
    await discard();
    throw new OutpostError(
      'AGENT_MANIFEST_MISMATCH',
      `artifact is ${source.format}, the manifest says ${manifest.format}`,
    );
  }
  await ctx.files.put(manifest.sha256, source);
  models.add(manifest, ctx.now());
  await discard();
  ctx.log.info(
    {
      model: manifest.name,
      version: manifest.version,
      precision: manifest.precision,
      sha256: manifest.sha256,
      resumedFrom: result.resumedFrom,
      fetched: result.fetched,
    },
    'artifact downloaded, verified and installed',
  );
  return { downloaded: true };
}
