import { performance } from 'node:perf_hooks';

/** Elapsed wall time of `fn`, ms, with its result. */
export async function timed<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/** Events per second for `count` events in `ms` milliseconds. */
export const rate = (count: number, ms: number): number => (ms > 0 ? (count * 1000) / ms : Number.NaN);

/** The `p`-th percentile (0-100) of `values`, nearest rank; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/** The median of `values`. */
export const median = (values: readonly number[]): number => percentile(values, 50);

/** `12 345/s` style. */
export const perSecond = (value: number): string => `${Math.round(value).toLocaleString('en-US')}/s`;

/** `0.84×` style. */
export const ratio = (value: number): string => `${value.toFixed(2)}×`;

/** `1.23 ms` style. */
export const millis = (value: number): string => `${value.toFixed(value < 10 ? 2 : 1)} ms`;

/** Resolves after the event loop had a turn (lets timers and sockets run between phases). */
export const settle = (ms = 50) => new Promise<void>((resolve) => setTimeout(resolve, ms));
