/**
 * A worker process of the CNN comparison: runs the simulations the bench sends (one at a time,
 * on one core: TF.js runs no WASM threads under Node), reports each round and the outcome over
 * the IPC channel, and exits when the bench goes away.
 */
import { type MnistSplit, simulate } from '../../federated/index.js';
import { cnnDigits } from './cnn-data.js';
import type { CnnAnswer, CnnCall, CnnJob } from './cnn-job.js';
import { outcomeWithin } from './cnn-protocol.js';

const send = (a: CnnAnswer) => process.send?.(a);

/** The digits, read once per size (every job of a comparison uses the same). */
const splits = new Map<string, MnistSplit>();
function dataFor(job: CnnJob): MnistSplit {
  const key = `${job.data} ${job.trainPerClass}/${job.testPerClass}`;
  let data = splits.get(key);
  if (data === undefined) {
    data = cnnDigits(job);
    splits.set(key, data);
  }
  return data;
}

async function run({ id, job }: CnnCall): Promise<void> {
  const t0 = performance.now();
  try {
    const r = await simulate(
      {
        model: 'cnn',
        filters: job.filters,
        dense: job.dense,
        clients: job.clients,
        fraction: job.fraction,
        partition: job.partition,
        epochs: job.epochs,
        batch: job.batch,
        lr: job.lr,
        rounds: job.rounds,
        targetAccuracy: job.target,
        stopAtTarget: true,
        seed: job.seed,
      },
      { data: dataFor(job), onRound: (x) => send({ id, round: x.round, accuracy: x.accuracy }) },
    );
    const measured = {
      initialAccuracy: r.initialAccuracy,
      accuracies: r.rounds.map((x) => x.accuracy),
      divergedAt: r.divergedAt,
    };
    const outcome = {
      ...outcomeWithin(measured, job.target, job.rounds),
      seconds: (performance.now() - t0) / 1000,
    };
    send({ id, ok: true, outcome });
  } catch (err) {
    send({ id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
}

process.on('message', (call: CnnCall) => void run(call));
process.on('disconnect', () => process.exit(0));
