import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { downloadArtifact } from '../../agent/delivery/download.js';
import { DeliveryStore } from '../../agent/store/delivery-store.js';
import { openAgentStore } from '../../agent/store/index.js';

/** Uncut download vs one cut half-way and resumed, through the agent's own downloader. */
export interface ResumeCost {
  size: number;
  uncutMs: number;
  /** Both legs of the cut download together. */
  cutMs: number;
  /** Bytes fetched beyond the artifact's size (sent twice). */
  resent: number;
  resumedFrom: number;
}

/**
 * Runs `downloadArtifact` (Range resume, fsync checkpoints every 1 MiB, progress in the agent
 * store) once uncut and once cut at half the bytes (the request aborted mid-stream, as a
 * link cut does) and resumed, `rounds` times each, alternating; medians.
 */
export async function measureResume(
  dir: string,
  artifact: { url: string; sha256: string; size: number; authorization: string },
  rounds: number,
): Promise<ResumeCost> {
  const store = openAgentStore({ dataDir: dir, durability: 'crash-safe' });
  const delivery = new DeliveryStore(store.db);
  const file = join(dir, 'staging.part');
  const base = {
    ...artifact,
    name: 'bench',
    version: '1.0.0',
    file,
    store: delivery,
    bandwidthBps: 0,
    checkpointBytes: 1024 * 1024,
    onProgress: () => undefined,
    now: Date.now,
  };
  const fresh = async () => {
    delivery.dropDownload(artifact.sha256);
    await rm(file, { force: true });
  };
  const uncut: number[] = [];
  const cut: number[] = [];
  let resent = 0;
  let resumedFrom = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      await fresh();
      let t = performance.now();
      await downloadArtifact(base);
      uncut.push(performance.now() - t);

      await fresh();
      const abort = new AbortController();
      let fetchedBeforeCut = 0;
      t = performance.now();
      await downloadArtifact({
        ...base,
        signal: abort.signal,
        onProgress: (bytes) => {
          fetchedBeforeCut = bytes;
          if (bytes >= artifact.size / 2 && !abort.signal.aborted) abort.abort(new Error('cut'));
        },
      }).catch((err: unknown) => {
        if (!abort.signal.aborted) throw err;
      });
      const second = await downloadArtifact(base);
      cut.push(performance.now() - t);
      resent = fetchedBeforeCut + second.fetched - artifact.size;
      resumedFrom = second.resumedFrom;
    }
  } finally {
    await fresh();
    store.close();
  }
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1] ?? Number.NaN;
  return { size: artifact.size, uncutMs: med(uncut), cutMs: med(cut), resent, resumedFrom };
}
