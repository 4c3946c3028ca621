import { OutpostError } from '../../../shared/index.js';
import { describeOverflow, type QuotaPolicyFn } from './types.js';

/**
 * `back-pressure`: a full lane refuses new events with `AGENT_OUTBOX_FULL` (503,
 * retryable), naming the lane and the limit; the caller keeps the event and retries once the
 * hub has acknowledged some. Nothing is dropped, so nothing reaches the loss ledger.
 */
export const backPressure: QuotaPolicyFn = (overflow) => {
  const { limit, text } = describeOverflow(overflow);
  throw new OutpostError(
    'AGENT_OUTBOX_FULL',
    `outbox lane ${overflow.lane} is full: ${text}; policy back-pressure, retry once the hub has caught up`,
    {
      details: {
        lane: overflow.lane,
        limit,
        max: overflow.limits[limit],
        rows: overflow.rows,
        bytes: overflow.bytes,
      },
    },
  );
};
