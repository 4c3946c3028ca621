import { z } from 'zod';
import { OutpostError } from '../../shared/index.js';
import { clipL2 } from '../codec/clip.js';
import { stepGlobal } from '../strategies/fedavg.js';
import { RoundBook } from '../strategies/round-book.js';
import type { Aggregation, ModelWeights, Strategy } from '../types.js';
import { addScaled, scaleInPlace, zerosLike } from '../weights.js';
import { addGaussianNoise, cryptoNormal, type NormalSource } from './noise.js';

/** Central-DP FedAvg parameters. */
export const DpFedAvgParamsSchema = z
  .object({
    /** L2 bound S every update is clipped to (its sensitivity). */
    clipNorm: z.number().positive(),
    /** Noise multiplier z: the sum gets N(0, (z·S)²) per coordinate. */
    noiseMultiplier: z.number().nonnegative(),
    /**
     * Denominator of the mean: the expected number of clients per round (q·K, fixed, as in
     * McMahan et al. 2018) so the count of participants is not used; default: the number
     * accepted (then that count is treated as public).
     */
    expectedClients: z.number().positive().optional(),
    serverLr: z.number().positive().default(1),
  })
  .strict();

/**
 * DP-FedAvg with central differential privacy (McMahan et al. 2018, "Learning Differentially
 * Private Recurrent Language Models";): each accepted update is clipped to S
 * (not refused: clipping is the sensitivity bound), summed with weight 1 — example counts are
 * ignored, since weighting by them would break the bound — then the sum gets Gaussian noise
 * of std z·S and is divided by the denominator. Account each round with
 * `RdpAccountant.step(q, z)`. Streams: memory O(model). `normal` defaults to
 * {@link cryptoNormal}; pass `seededNormal(seed)` only in tests. Updates are still validated
 * (shape, finite values, and `maxNorm` from `begin` if given) before clipping.
 */
export function dpFedAvg(
  params: z.input<typeof DpFedAvgParamsSchema>,
  normal: NormalSource = cryptoNormal(),
): Strategy {
  const parsed = DpFedAvgParamsSchema.safeParse(params);
  if (!parsed.success) {
    throw new OutpostError(
      'FL_BAD_PARAMS',
      `dp-fedavg parameters: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const { clipNorm, noiseMultiplier, expectedClients, serverLr } = parsed.data;
  return {
    name: 'dp-fedavg',
    clientConfig: () => ({}),
    begin(global: ModelWeights, options): Aggregation {
      const book = new RoundBook(global, options.maxNorm);
      const sum = zerosLike(global);
      return {
        add(update) {
          const verdict = book.admit(update);
          if (verdict.ok) addScaled(sum, clipL2(update.delta, clipNorm).delta, 1);
          return verdict;
        },
        finish() {
          book.close();
          if (book.accepted.length === 0)
            throw new OutpostError(
              'FL_ROUND_FAILED',
              `no update was accepted (${book.rejected.length} refused)`,
            );
          addGaussianNoise(sum, noiseMultiplier * clipNorm, normal);
          const mean = scaleInPlace(sum, 1 / (expectedClients ?? book.accepted.length));
          return {
            weights: stepGlobal(global, mean, serverLr),
            accepted: [...book.accepted],
            rejected: [...book.rejected],
            state: null,
          };
        },
      };
    },
  };
}
