import { OutpostError } from './errors.js';
import { type FlWeightsArtifact, flWeightsStatement } from './messages/federated.js';
import { type SigningKeyPair, signCanonical, verifyCanonical } from './signing.js';

/** The hub signs the reference to a round's global weights (`federated.task.weightsArtifact`). */
export function signFlWeights(
  task: string,
  round: number,
  artifact: { sha256: string; size: number },
  keys: SigningKeyPair,
): FlWeightsArtifact {
  const { sha256, size } = artifact;
  return { sha256, size, signature: signCanonical(flWeightsStatement(task, round, sha256, size), keys) };
}

/**
 * Verifies the reference to a round's global weights against the trusted keys: the signature
 * covers the task id and the round, so a reference cannot be replayed into another task or
 * round. Throws `PROTO_UNTRUSTED_KEY` (also when no key is trusted) or `PROTO_BAD_SIGNATURE`.
 */
export function verifyFlWeights(
  task: string,
  round: number,
  artifact: FlWeightsArtifact,
  trustedPublicKeysPem: readonly string[],
): void {
  if (trustedPublicKeysPem.length === 0) {
    throw new OutpostError(
      'PROTO_UNTRUSTED_KEY',
      'no trusted hub keys are configured (delivery.trustedKeys) to verify federated weights',
    );
  }
  verifyCanonical(
    flWeightsStatement(task, round, artifact.sha256, artifact.size),
    artifact.signature,
    trustedPublicKeysPem,
    `the global weights of ${task} round ${round}`,
  );
}
