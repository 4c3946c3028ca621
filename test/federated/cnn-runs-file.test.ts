import assert from 'node:assert/strict';
import { it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { entryPoint } from '../helpers/paths.js';

// A recorded run answers a later job with the same settings only as far as it was recorded:
// the CNN comparison's `--resume` file (the bench builds on this project, so its module is
// loaded as the suite runs it).

interface Outcome {
  roundsToTarget: number | null;
  bestAccuracy: number;
  divergedAt: number | null;
}
interface RunsFileModule {
  outcomeFrom(
    r: { initialAccuracy: number; accuracies: number[]; divergedAt: number | null },
    target: number,
    rounds: number,
  ): Outcome | undefined;
}
const load = async () =>
  (await import(pathToFileURL(entryPoint('bench/federated/cnn-runs-file').file).href)) as RunsFileModule;

it('answers from the recorded rounds: reached within the limit, recorded past it, or diverged; else runs again', async () => {
  const { outcomeFrom } = await load();
  // Stopped when it reached 95% at round 4.
  const stopped = { initialAccuracy: 0.1, accuracies: [0.5, 0.8, 0.9, 0.95], divergedAt: null };
  assert.deepEqual(pick(outcomeFrom(stopped, 0.95, 100)), {
    roundsToTarget: 4,
    bestAccuracy: 0.95,
    divergedAt: null,
  });
  assert.deepEqual(pick(outcomeFrom(stopped, 0.85, 100)), {
    roundsToTarget: 3,
    bestAccuracy: 0.9,
    divergedAt: null,
  });
  // A cut at 3 rounds: not reached, best of the 3.
  assert.deepEqual(pick(outcomeFrom(stopped, 0.95, 3)), {
    roundsToTarget: null,
    bestAccuracy: 0.9,
    divergedAt: null,
  });
  // A higher target: the record ends before it could say.
  assert.equal(outcomeFrom(stopped, 0.97, 100), undefined);
  // Diverged in round 3 (two rounds recorded): answers any limit from 2 on.
  const diverged = { initialAccuracy: 0.1, accuracies: [0.3, 0.2], divergedAt: 3 };
  assert.deepEqual(pick(outcomeFrom(diverged, 0.9, 50)), {
    roundsToTarget: null,
    bestAccuracy: 0.3,
    divergedAt: 3,
  });
  assert.deepEqual(pick(outcomeFrom(diverged, 0.9, 2)), {
    roundsToTarget: null,
    bestAccuracy: 0.3,
    divergedAt: null,
  });
});

const pick = (o: Outcome | undefined) =>
  o === undefined
    ? undefined
    : { roundsToTarget: o.roundsToTarget, bestAccuracy: o.bestAccuracy, divergedAt: o.divergedAt };
