import { randomFillSync } from 'node:crypto';
import { chunk, reassemble, SecAggClient, SecAggServer } from '../../federated/index.js';
import {
  maskedWords,
  SecAggRound,
  type SecureTask,
  takeMaskedInput,
} from '../../hub/federated/secagg-round.js';
import { openSqliteHubStore } from '../../hub/index.js';
import { FL_UPLOAD_PART_BYTES } from '../../shared/messages/federated.js';
import { timed } from '../lib/measure.js';
import { Scratch } from '../outbox/fixture.js';
import { gc, PeakMemory } from './aggregate.js';

/** One measured way of taking a secure round's masked inputs. */
export interface SecAggMemoryRun {
  ms: number;
  /** Peak RSS growth over the start of the run, MB. */
  rssMb: number;
  /** Peak (heap + ArrayBuffer) growth over the start, MB: with garbage not yet collected. */
  liveMb: number;
  /** Largest (heap + ArrayBuffer) growth after a full collection following each input, MB. */
  keptMb: number;
  /** Masked data held once every input was taken, bytes. */
  heldBytes: number;
}

/** What {@link measureSecAggMemory} returns. */
export interface SecAggMemoryFigures {
  params: number;
  devices: number;
  /** Bytes of one masked input (4 per word: the parameters plus the weight). */
  inputBytes: number;
  /** Every input kept until the sum, as the hub did before the running sum. */
  kept: SecAggMemoryRun;
  /** The hub's path now: `takeMaskedInput` into the round's running sum. */
  running: SecAggMemoryRun;
}

/**
 * The hub's memory while a secure round takes `devices` masked inputs of `params` parameters
 * (plus the weight word) from a real SQLite store, filed in 1 MiB parts: the hub's own path
 * (`takeMaskedInput` into one running sum, a round of real clients through key sharing)
 * against keeping every input and summing at the end, over the same stored bytes in the same
 * run (the running sum first, so that neither starts amid the other's garbage). The inputs are random words: what is measured is what the hub holds, not the masking.
 */
export async function measureSecAggMemory(
  params: number,
  devices: number,
  progress: (l: string) => void,
): Promise<SecAggMemoryFigures> {
  const scratch = new Scratch();
  const store = openSqliteHubStore(await scratch.dir('outpost-bench-secagg-'));
  try {
    const words = params + 1;
    const ids = Array.from({ length: devices }, (_, i) => `dev-${String(i).padStart(4, '0')}`);
    const sa = new SecAggServer({ round: 1, threshold: 2, length: words, maxClients: Math.max(2, devices) });
    const task = { id: 'sec', round: 1, mode: 'sync', deadline: 0 } as unknown as SecureTask;
    await store.createFlTask(
      {
        id: 'sec',
        spec: { rounds: 1 },
        status: 'running',
        round: 1,
        serverState: null,
        best: null,
        reason: null,
        createdAt: 1,
        updatedAt: 1,
      },
      new Uint8Array([1]),
    );
    const round = {
      taskId: 'sec',
      round: 1,
      status: 'open' as const,
      selected: ids,
      openedAt: 1,
      deadline: 0,
      closedAt: null,
      metrics: {},
    };
    await store.openSecAggRound(round, {
      phase: 'advertise',
      phaseAt: 1,
      params: sa.params,
      maxExamples: 1,
      task,
    });
    progress(`secagg: ${devices} devices share keys`);
    const live = new SecAggRound(task, sa.params, 1, 1, 'mask');
    const clients = ids.map((id) => new SecAggClient(id, sa.params));
    for (const c of clients) live.server.receiveAdvertisement(c.advertise());
    const roster = live.server.roster();
    for (const c of clients) live.server.receiveShares(c.clientId, c.shareKeys(roster));
    live.server.submitted();

    progress(`secagg: storing ${devices} masked inputs of ${(words * 4).toLocaleString('en-US')} bytes`);
    const bytes = new Uint8Array(words * 4);
    for (const id of ids) {
      randomFillSync(bytes);
      for (const part of chunk(bytes, FL_UPLOAD_PART_BYTES))
        await store.putFlChunk({
          taskId: 'sec',
          round: 1,
          deviceId: id,
          ...part,
          meta: { examples: 1 },
          at: 1,
        });
    }

    /** Samples the peak, then what is live after a full collection. */
    const sampler = (peak: PeakMemory, live: PeakMemory) => () => {
      peak.sample();
      gc();
      live.sample();
    };
    const run = async (fn: (sample: () => void) => Promise<number>): Promise<SecAggMemoryRun> => {
      // Twice, a turn apart: freed ArrayBuffers' memory is given back after the collection.
      gc();
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      const start = process.memoryUsage();
      const peak = new PeakMemory();
      const live = new PeakMemory();
      const { ms, value } = await timed(() => fn(sampler(peak, live)));
      const growth = (m: PeakMemory) => (m.buffers - start.heapUsed - start.arrayBuffers) / 1e6;
      return {
        ms,
        rssMb: (peak.rss - start.rss) / 1e6,
        liveMb: growth(peak),
        keptMb: growth(live),
        heldBytes: value,
      };
    };

    progress('secagg: takeMaskedInput into the running sum');
    const running = await run(async (sample) => {
      for (const id of ids) {
        await takeMaskedInput(store, live, id);
        sample();
      }
      return live.server.maskedBytesHeld;
    });
    progress('secagg: every input kept until the sum');
    const kept = await run(async (sample) => {
      const inputs = new Map<string, Uint32Array>();
      for (const id of ids) {
        inputs.set(id, maskedWords(reassemble(await store.getFlChunks('sec', 1, id))));
        sample();
      }
      const sum = new Uint32Array(words);
      for (const x of inputs.values())
        for (let k = 0; k < words; k++) sum[k] = ((sum[k] as number) + (x[k] as number)) >>> 0;
      sample();
      return [...inputs.values()].reduce((n, x) => n + x.byteLength, 0);
    });
    return { params, devices, inputBytes: words * 4, kept, running };
  } finally {
    await store.close();
    await scratch.cleanup();
  }
}
