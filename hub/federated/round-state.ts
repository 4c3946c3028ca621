import type { FlRoundStatus } from '../store/federated-types.js';

/**
 * The state a federated round is in from its opening until it ends, once, `closed` with its
 * aggregate or `failed`. Only an open round may end: a replica that lost its lease while
 * paused, and so tries to end a round another replica already ended, changes nothing. Every
 * store backend applies this rule when it ends a round (an update conditional on the state).
 */
export const ROUND_OPEN: FlRoundStatus = 'open';
