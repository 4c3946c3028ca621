import { z } from 'zod';
import { StrategyNameSchema } from '../strategies/registry.js';
import { PartitionSchema } from './partition.js';

/** Options of {@link simulate}; the defaults are McMahan et al. 2017's MNIST 2NN setting, smaller. */
export const SimulateOptionsSchema = z
  .object({
    dataset: z.literal('mnist').default('mnist'),
    /** Simulated clients K (default 100). */
    clients: z.coerce.number().int().positive().default(100),
    /** Fraction C of clients per round (default 0.1; at least one client). */
    fraction: z.coerce.number().gt(0).max(1).default(0.1),
    /** Local epochs E (default 5). */
    epochs: z.coerce.number().int().positive().default(5),
    /** Local batch size B; 0 = full batch (FedSGD). Default 10. */
    batch: z.coerce.number().int().nonnegative().default(10),
    /** Client SGD learning rate (default 0.1). */
    lr: z.coerce.number().positive().default(0.1),
    partition: PartitionSchema.default('iid'),
    strategy: StrategyNameSchema.default('fedavg'),
    /** Strategy parameters (checked by the strategy's schema). */
    strategyParams: z.record(z.string(), z.unknown()).default({}),
    /** Rounds to run (default 20). */
    rounds: z.coerce.number().int().positive().default(20),
    /** Held-out accuracy to reach, 0-1 (default 0.9). */
    targetAccuracy: z.coerce.number().gt(0).max(1).default(0.9),
    /** Stop at the first round that reaches the target (default false: run every round). */
    stopAtTarget: z.coerce.boolean().default(false),
    /** The model: McMahan's 2NN-style MLP (default) or CNN (5×5 convs with 2×2 max pooling). */
    model: z.enum(['mlp', 'cnn']).default('mlp'),
    /** CNN convolution filters (default [32, 64], the paper's). */
    filters: z.array(z.coerce.number().int().positive()).default([32, 64]),
    /** CNN hidden Dense units (default 512, the paper's). */
    dense: z.coerce.number().int().positive().default(512),
    /** Hidden layer widths of the MLP (default [200]). */
    hidden: z.array(z.coerce.number().int().positive()).default([200]),
    /** Training digits per class (default 700 → 7 000); the next 150 per class are the test set. */
    trainPerClass: z.coerce.number().int().positive().max(700).default(700),
    seed: z.coerce.number().int().default(1),
    /** Uplink compression of each client's update, as devices do it (default none). */
    compression: z.enum(['none', 'int8', 'topk']).default('none'),
    /** Fraction of entries `topk` keeps (default 0.01). */
    topkFraction: z.coerce.number().gt(0).max(1).default(0.01),
    /** Error feedback for int8/topk: each client carries what compression dropped (default true). */
    errorFeedback: z.boolean().default(true),
  })
  .strict();
export type SimulateOptions = z.output<typeof SimulateOptionsSchema>;
