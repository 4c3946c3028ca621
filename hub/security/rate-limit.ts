import type { FastifyInstance } from 'fastify';
import { OutpostError } from '../../shared/index.js';
import type { Rejections } from '../rejections.js';
import type { LimitsConfig } from './config.js';
import { TokenBuckets } from './token-bucket.js';

/** Routes never limited: probes and scrapes come from the platform, often and by design. */
const EXEMPT = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Per-client rate limit of the HTTP API: a token bucket per client address;
 * past it, `429 HUB_RATE_LIMITED` with `Retry-After` (seconds), counted as the rejection
 * `http.rate-limited`. Runs first (`onRequest`), before authentication and body parsing.
 */
export function installRateLimit(
  app: FastifyInstance,
  limits: LimitsConfig['http'],
  rejections: Rejections,
  now: () => number = Date.now,
): void {
  const buckets = new TokenBuckets(limits.ratePerS, limits.burst, now);
  app.addHook('onRequest', async (request, reply) => {
    if (EXEMPT.has(request.url.split('?')[0] ?? '')) return;
    const wait = buckets.take(request.ip);
    if (wait === 0) return;
    rejections.reject(
      request.ip,
      'http.rate-limited',
      `more than ${limits.ratePerS} requests/s (burst ${limits.burst})`,
    );
    reply.header('retry-after', String(wait));
    throw new OutpostError('HUB_RATE_LIMITED', `too many requests from ${request.ip}; retry in ${wait} s`);
  });
}
