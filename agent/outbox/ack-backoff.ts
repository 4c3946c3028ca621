import { backoffCeilingMs } from '../link/backoff.js';

/**
 * Cap of the ack wait, as a multiple of the base (`outbox.ackTimeoutMs`): three doublings,
 * 80 s at the default 10 s. A multiple rather than its own setting, so that it follows the
 * base an operator tunes. Eight times cuts an overloaded hub's resend load eightfold and is
 * reached after three timeouts (70 s at the default); beyond it the gain is small, while a
 * batch whose ack was really lost (the link is up, so no reconnect resends it) would wait ever
 * longer.
 */
export const ACK_BACKOFF_MAX_FACTOR = 8;

/** Half the width of the jitter: each wait is its ceiling times a uniform factor in [0.8, 1.2]. */
export const ACK_JITTER = 0.2;

/**
 * How long a batch waits for its ack before its lane is resent, ms: the base doubled per
 * consecutive ack timeout, capped at {@link ACK_BACKOFF_MAX_FACTOR} × base, times a random
 * factor in [1 − {@link ACK_JITTER}, 1 + {@link ACK_JITTER}].
 *
 * Why: a fixed timeout makes an overloaded hub (acks slower than the timeout) receive every
 * batch again every timeout from every device, which only adds to the overload until goodput
 * collapses. Doubling backs off as MQTT clients and AWS IoT / Greengrass do; the jitter keeps a
 * fleet that timed out together from resending together. The caller resets the count on an ack.
 *
 * Shared by the agent's drain and the fleet bench's simulated devices.
 *
 * @param timeouts - consecutive ack timeouts so far (0 for a batch after an ack), ≥ 0.
 * @param baseMs - the base timeout, ms (config `outbox.ackTimeoutMs`).
 * @param random - source of uniform numbers in [0, 1); `Math.random` by default.
 * @returns an integer wait in ms, within [0.8, 1.2] × min(base · 2^timeouts, 8 · base), rounded.
 */
export function ackWaitMs(timeouts: number, baseMs: number, random: () => number = Math.random): number {
  const ceiling = backoffCeilingMs(timeouts, baseMs, baseMs * ACK_BACKOFF_MAX_FACTOR);
  return Math.round(ceiling * (1 - ACK_JITTER + 2 * ACK_JITTER * random()));
}
