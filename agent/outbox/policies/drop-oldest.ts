import type { QuotaPolicyFn } from './types.js';

/**
 * `drop-oldest`: a full lane makes room by deleting its oldest pending events in
 * the enqueue's own transaction, each recorded in the loss ledger (reason `quota`). The new
 * event is always kept: fresh telemetry is worth more than stale.
 */
export const dropOldest: QuotaPolicyFn = () => ({ action: 'drop-oldest' });
