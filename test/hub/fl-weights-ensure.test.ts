import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sha256Hex } from '../../federated/index.js';
import { FlWeightsArtifacts } from '../../hub/federated/weights-artifacts.js';
import { ArtifactStore } from '../../hub/registry/artifact-store.js';
import type { HubStore } from '../../hub/store/types.js';
import { type DesiredState, generateSigningKeyPair } from '../../shared/index.js';
import { tempDir } from '../helpers/fixtures.js';

// A device's artifact request reads its desired state, then the weights artifact is written
// from the store when missing. If the task ends in between (its desired states change and
// `prune` deletes the artifact), that write used to bring the artifact back for good: a
// finished task's global model left on disk (seen in the 20 MB-model system test).
test('a global model written back for a request the task outlived is deleted again, not left behind', async () => {
  const dir = tempDir('outpost-fl-ensure-');
  try {
    const artifacts = new ArtifactStore(dir.path);
    const weights = new Uint8Array(4096).map((_, i) => i % 251);
    const sha = sha256Hex(weights);
    let stillReferenced = true;
    const flWeights = new FlWeightsArtifacts({
      // The store as it stands: the round's weights kept; whether a desired state still
      // references them is what the test switches.
      store: {
        getFlWeights: async () => weights,
        listFlRounds: async () => [],
        listDesired: async () =>
          stillReferenced
            ? [{ deviceId: 'd1', desired: { federated: { task: { weightsArtifact: { sha256: sha } } } } }]
            : [],
        artifactInUse: async () => false,
      } as unknown as Pick<HubStore, 'getFlWeights' | 'listFlRounds' | 'listDesired' | 'artifactInUse'>,
      artifacts,
      signingKey: () => generateSigningKeyPair(),
      maxBytes: 1 << 20,
    });
    // What the request read before the task ended.
    const desiredThen = {
      federated: { task: { id: 'big', round: 1, weightsArtifact: { sha256: sha } } },
    } as unknown as DesiredState;

    // While the task runs, a missing artifact is written back and served.
    assert.equal(await flWeights.ensure(desiredThen, sha), true);
    assert.ok((await artifacts.stat(sha)) !== undefined);

    // The task ends and its prune deletes the artifact; the request still holds the old state.
    stillReferenced = false;
    await artifacts.delete(sha);
    assert.equal(await flWeights.ensure(desiredThen, sha), false);
    assert.equal(await artifacts.stat(sha), undefined);
  } finally {
    dir.remove();
  }
});
