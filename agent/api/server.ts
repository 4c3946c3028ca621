import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { isOutpostError, type Lane, OutpostError } from '../../shared/index.js';
import type { AgentModels } from '../inference/models-api.js';
import type { SampleStore } from '../store/sample-store.js';
import type { AgentStatus } from '../types.js';
import { DEFAULT_JSON_MAX_OUTPUT_ELEMENTS, registerInferenceRoutes } from './inference-routes.js';
import { type ApiAccess, installRequestGuard } from './request-guard.js';
import { registerSampleRoutes } from './samples-routes.js';

/** Options of the local API. */
export interface ApiOptions extends ApiAccess {
  /** Bind address (config `api.host`, loopback by default; elsewhere `api.token` is required). */
  host: string;
  /** Port (config `api.port`); 0 picks a free one. */
  port: number;
  status(): AgentStatus;
  /** Validates and durably enqueues an event; throws OutpostError. */
  enqueue(input: unknown): { lane: Lane; seq: number };
  /** The model API; when given, the inference routes are served (see inference-routes.ts). */
  models?: AgentModels;
  /** Most output elements an inference answers in JSON (config `api.jsonMaxOutputElements`). */
  jsonMaxOutputElements?: number;
  /** Labelled examples for federated learning; when given, the sample routes are served. */
  samples?: SampleStore;
  /** The federated task runner; its status is served at `GET /v1/federated`. */
  federated?: { status(): unknown };
  /** True once the agent is closing: every request is answered `AGENT_CLOSED`. */
  isClosing(): boolean;
  /** Adds more routes before listening (`GET /metrics`). */
  routes?: (app: FastifyInstance) => void;
  log: Logger;
}

/** The running local API. */
export interface LocalApi {
  /** Base URL, e.g. `http://127.0.0.1:7070`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Largest accepted request body, bytes. */
const BODY_LIMIT_BYTES = 1024 * 1024;

function toOutpostError(err: FastifyError | Error): OutpostError {
  if (isOutpostError(err)) return err;
  const status = (err as FastifyError).statusCode;
  if (status === 413) return new OutpostError('PROTO_PAYLOAD_TOO_LARGE', err.message);
  if (status !== undefined && status >= 400 && status < 500) {
    return new OutpostError('AGENT_BAD_REQUEST', err.message, { details: [err.message] });
  }
  return new OutpostError('AGENT_INTERNAL', undefined, { cause: err });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Starts the agent's local HTTP API for applications on the device:
 * - `GET /v1/status` → 200 {@link AgentStatus}
 * - `POST /v1/events` `{ type, body, lane? }` → 202 `{ lane, seq }`, durable before the reply
 *
 * Errors are `{ error: { code, message } }`: `AGENT_BAD_REQUEST` (400, every `path: problem`),
 * `PROTO_PAYLOAD_TOO_LARGE` (413), `AGENT_NOT_FOUND` (404), `AGENT_CLOSED` (503), and from the
 * request guard `AGENT_FORBIDDEN` (403, foreign Host or Origin) and `AGENT_UNAUTHORIZED` (401).
 */
export async function startApi(options: ApiOptions): Promise<LocalApi> {
  const app = Fastify({ logger: false, bodyLimit: BODY_LIMIT_BYTES });

  app.addHook('onRequest', async () => {
    if (options.isClosing()) throw new OutpostError('AGENT_CLOSED');
  });
  installRequestGuard(app, options);
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const error = toOutpostError(err);
    if (error.code === 'AGENT_INTERNAL') {
      options.log.error({ err, method: request.method, url: request.url }, 'local API request failed');
    }
    return reply.code(error.http).send(error.toBody());
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new OutpostError('AGENT_NOT_FOUND', `no route ${request.method} ${request.url}`);
    return reply.code(error.http).send(error.toBody());
  });

  app.get('/v1/status', async () => options.status());
  app.post('/v1/events', async (request, reply) => {
    const accepted = options.enqueue(request.body);
    return reply.code(202).send(accepted);
  });
  if (options.models)
    registerInferenceRoutes(app, options.models, {
      jsonMaxOutputElements: options.jsonMaxOutputElements ?? DEFAULT_JSON_MAX_OUTPUT_ELEMENTS,
    });
  options.routes?.(app);
  // After the inference routes: both accept the binary tensor form and share its parser.
  if (options.samples) registerSampleRoutes(app, options.samples, options.federated);

  await app.listen({ host: options.host, port: options.port });
  const port = (app.server.address() as AddressInfo).port;
  const url = `http://${urlHost(options.host)}:${port}`;
  options.log.info({ url }, 'local API listening');
  return { url, port, close: () => app.close() };
}
