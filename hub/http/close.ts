import type { FastifyInstance } from 'fastify';

/**
 * How long requests in flight when the hub stops get to finish before their connections are
 * cut, ms. Cutting loses nothing: downloads resume with Range, uploads at the hub's offset, and
 * agents retry other calls. Without the cut a stop waits for the slowest request, and a
 * connection whose request ended after the close began stays open until its keep-alive
 * timeout (72 s in Fastify): seen as hub stops of 70 s in the federated system tests.
 */
export const HTTP_CLOSE_GRACE_MS = 2000;

/** Closes `app`: no new connections, idle ones at once, busy ones after `graceMs` at most. */
export async function closeHttp(app: FastifyInstance, graceMs = HTTP_CLOSE_GRACE_MS): Promise<void> {
  const cut = setTimeout(() => app.server.closeAllConnections(), graceMs);
  try {
    await app.close();
  } finally {
    clearTimeout(cut);
  }
}
