/**
 * Rows of one tensor that the observers on the inference path (the drift summary and the
 * confidence metric) read per call, at most. Their cost then stays flat as the batch grows:
 * reading every row cost about 1.2 ns a value each, 5 µs for 192 rows of 10 classes, which
 * is most of what the agent adds to a 0.2 ms run. Histograms and means estimated from an
 * even sample of each batch keep their proportions; the rows counted are the rows read.
 */
export const MAX_OBSERVED_ROWS = 32;

/**
 * The stride between observed rows of a `rows`-row batch: 1 (every row) up to
 * {@link MAX_OBSERVED_ROWS}, else the smallest that reads at most that many.
 */
export function observedStride(rows: number): number {
  return rows <= MAX_OBSERVED_ROWS ? 1 : Math.ceil(rows / MAX_OBSERVED_ROWS);
}

/**
 * The first observed row for the `turn`-th call (any counter that grows by one a call):
 * it rotates through `0 … stride − 1`, so over successive calls every position of a batch is
 * read, and a batch whose rows are ordered (sorted, grouped by source) is not read from one
 * side only.
 */
export function firstObservedRow(turn: number, stride: number): number {
  return turn % stride;
}
