import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { OutpostError } from '../../shared/index.js';
import { FlTaskIdSchema } from '../../shared/messages/federated.js';
import type { HubFederated } from '../federated/setup.js';
import type { FlRoundRecord, FlTaskRecord } from '../store/federated-types.js';
import type { HubStore } from '../store/types.js';
import { parseRequest } from './context.js';

const IdParams = z.strictObject({ id: FlTaskIdSchema });
export const WeightsQuery = z.strictObject({ round: z.coerce.number().int().positive().optional() });

function taskView(task: FlTaskRecord) {
  const { spec, ...rest } = task;
  const { topology: _topology, ...settings } = spec as Record<string, unknown>;
  return { ...rest, spec: settings };
}

async function roundView(store: HubStore, round: FlRoundRecord) {
  const updates = await store.listFlUpdates(round.taskId, round.round);
  return { ...round, updates };
}

async function requireTask(store: HubStore, id: string): Promise<FlTaskRecord> {
  const task = await store.getFlTask(id);
  if (task === undefined) throw new OutpostError('HUB_NOT_FOUND', `no federated task ${id}`);
  return task;
}

/**
 * The federated admin API, admin bearer token:
 * - `POST /v1/federated/tasks` (body: `hub/federated/task-spec.ts`) → 201 the task;
 *   `FL_BAD_PARAMS` (400) naming every problem
 * - `GET /v1/federated/tasks` → `{tasks}`; `GET /v1/federated/tasks/{id}` → the task with
 *   its rounds
 * - `GET /v1/federated/tasks/{id}/rounds` → `{rounds}`: per round the selection, status,
 *   metrics (accepted, rejected per reason, dropouts, federated and hub evaluation, DP,
 *   closed loop) and every update's outcome
 * - `GET /v1/federated/tasks/{id}/weights?round=N` → `{round, weights}` (codec bytes,
 *   base64) of the global model round N starts from (default: the latest)
 * - `POST /v1/federated/tasks/{id}/stop` → the task, stopped and unpublished
 */
export function registerFederatedRoutes(
  app: FastifyInstance,
  store: HubStore,
  federated: HubFederated,
): void {
  app.post('/v1/federated/tasks', async (request, reply) => {
    const task = await federated.runner.createTask(request.body);
    return reply.code(201).send(taskView(task));
  });
  app.get('/v1/federated/tasks', async () => ({
    tasks: (await store.listFlTasks()).map(taskView),
    refused: federated.ingest.dropped(),
  }));
  app.get('/v1/federated/tasks/:id', async (request) => {
    const { id } = parseRequest(IdParams, request.params, 'path');
    const task = await requireTask(store, id);
    const rounds = await store.listFlRounds(id);
    return { ...taskView(task), rounds };
  });
  app.get('/v1/federated/tasks/:id/rounds', async (request) => {
    const { id } = parseRequest(IdParams, request.params, 'path');
    await requireTask(store, id);
    const rounds = await store.listFlRounds(id);
    return { rounds: await Promise.all(rounds.map((r) => roundView(store, r))) };
  });
  app.get('/v1/federated/tasks/:id/weights', async (request) => {
    const { id } = parseRequest(IdParams, request.params, 'path');
    const { round } = parseRequest(WeightsQuery, request.query, 'query');
    const task = await requireTask(store, id);
    const wanted = round ?? task.round;
    let bytes = await store.getFlWeights(id, wanted);
    let at = wanted;
    // A finished task's latest round has no weights of its own when its last round failed.
    while (bytes === undefined && round === undefined && at > 1) bytes = await store.getFlWeights(id, --at);
    if (bytes === undefined)
      throw new OutpostError('HUB_NOT_FOUND', `task ${id} has no weights for round ${wanted}`);
    return { round: at, weights: Buffer.from(bytes).toString('base64') };
  });
  app.post('/v1/federated/tasks/:id/stop', async (request) => {
    const { id } = parseRequest(IdParams, request.params, 'path');
    return taskView(await federated.runner.stopTask(id));
  });
}
