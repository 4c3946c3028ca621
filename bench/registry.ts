import type { Benchmark } from './lib/types.js';

/**
 * Every benchmark by name, loaded on demand (`npm run bench -- NAME`). Add one file (or
 * folder) per benchmark and one line here.
 */
export const BENCHMARKS: Readonly<Record<string, () => Promise<Benchmark>>> = {
  outbox: async () => (await import('./outbox/index.js')).outboxBenchmark,
  inference: async () => (await import('./inference/index.js')).inferenceBenchmark,
  'inference-overhead': async () =>
    (await import('./inference/overhead-bench.js')).inferenceOverheadBenchmark,
  federated: async () => (await import('./federated/index.js')).federatedBenchmark,
  delivery: async () => (await import('./delivery/index.js')).deliveryBenchmark,
  ops: async () => (await import('./ops/index.js')).opsBenchmark,
  fleet: async () => (await import('./fleet/index.js')).fleetBenchmark,
  rollouts: async () => (await import('./rollouts/index.js')).rolloutsBenchmark,
  store: async () => (await import('./store/index.js')).storeBenchmark,
  retention: async () => (await import('./retention/index.js')).retentionBenchmark,
  quantize: async () => (await import('./quantize/index.js')).quantizeBenchmark,
  floods: async () => (await import('./floods/index.js')).floodsBenchmark,
  'nats-auth': async () => (await import('./nats-auth/index.js')).natsAuthBenchmark,
};
