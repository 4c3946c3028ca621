/**
 * Reconnect delay with "full jitter" exponential backoff: a uniform random delay in
 * `[0, min(maxMs, minMs · 2^attempt))` ms. `attempt` counts failed attempts since the last
 * successful connect (0 for the first retry) and resets on connect.
 *
 * @param attempt - retries so far since the last connect, ≥ 0.
 * @param minMs - base delay, ms (config `link.reconnectMinMs`, default 500).
 * @param maxMs - cap on the ceiling, ms (config `link.reconnectMaxMs`, default 30 000).
 * @param random - source of uniform numbers in [0, 1); `Math.random` by default.
 * @returns an integer delay in ms, 0 ≤ delay < ceiling (0 when the ceiling is 0).
 */
export function backoffDelayMs(
  attempt: number,
  minMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * backoffCeilingMs(attempt, minMs, maxMs));
}

/** The upper bound of {@link backoffDelayMs}: `min(maxMs, minMs · 2^attempt)`, never negative. */
export function backoffCeilingMs(attempt: number, minMs: number, maxMs: number): number {
  const exponent = Math.max(0, Math.floor(attempt));
  // 2^1024 is Infinity, which Math.min turns into maxMs: no overflow to guard against.
  return Math.max(0, Math.min(maxMs, minMs * 2 ** exponent));
}
