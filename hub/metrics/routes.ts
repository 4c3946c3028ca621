import type { FastifyInstance } from 'fastify';
import type { HubMetrics } from './hub-metrics.js';

/**
 * `GET /metrics` (Prometheus text format, no auth: aggregate figures only, no device ids or
 * secrets; put it behind the network policy of your scraper) and an `onResponse` hook that
 * counts every request by method, route pattern and status.
 */
export function registerMetricsRoutes(app: FastifyInstance, metrics: HubMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get('/metrics', async (_request, reply) => {
    const { contentType, text } = await metrics.scrape();
    return reply.header('content-type', contentType).send(text);
  });
}
