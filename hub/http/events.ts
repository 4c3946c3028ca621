import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { LaneSchema, OutpostError, StoreEpochSchema } from '../../shared/index.js';
import type { EventPosition } from '../store/types.js';
import { type HttpDeps, parseRequest } from './context.js';
import { DeviceParamsSchema, requireDevice } from './devices.js';
import { eventView } from './views.js';

/** Default and largest page of `GET /v1/devices/:id/events`. */
export const EVENTS_DEFAULT_LIMIT = 1000;
export const EVENTS_MAX_LIMIT = 10_000;

/** Query of `GET /v1/devices/:id/events`. */
export const EventsQuerySchema = z.strictObject({
  lane: LaneSchema.optional(),
  epoch: StoreEpochSchema.optional(),
  /** A `next` cursor from a previous page, or a bare seq when `lane` and `epoch` are given. */
  after: z.string().min(1).max(200).optional(),
  limit: z.coerce.number<unknown>().int().min(1).max(EVENTS_MAX_LIMIT).default(EVENTS_DEFAULT_LIMIT),
});

/** The `next` cursor of an event: `{epoch}.{lane}.{seq}` (no part contains a dot). */
export function eventCursor(position: EventPosition): string {
  return `${position.epoch}.${position.lane}.${position.seq}`;
}

/** Parses `after`: a cursor from {@link eventCursor}, or a bare seq within one lane and epoch. */
export function parseAfter(
  after: string,
  lane: EventPosition['lane'] | undefined,
  epoch: string | undefined,
): EventPosition {
  if (/^\d+$/.test(after)) {
    if (lane === undefined || epoch === undefined) {
      throw new OutpostError('HUB_BAD_REQUEST', 'after: a bare seq needs lane and epoch; else pass `next`');
    }
    return { epoch, lane, seq: Number(after) };
  }
  const [cursorEpoch, cursorLane, seq, ...rest] = after.split('.');
  const parsedLane = LaneSchema.safeParse(cursorLane);
  const valid =
    rest.length === 0 &&
    StoreEpochSchema.safeParse(cursorEpoch).success &&
    parsedLane.success &&
    seq !== undefined &&
    /^\d+$/.test(seq);
  if (!valid || !parsedLane.success) throw new OutpostError('HUB_BAD_REQUEST', 'after: not a valid cursor');
  return { epoch: cursorEpoch as string, lane: parsedLane.data, seq: Number(seq) };
}

/**
 * `GET /v1/devices/:id/events?lane=&epoch=&after=&limit=` → `{events, next?}` in
 * `(epoch, lane, seq)` order; `next` is present when the page is full, to pass as `after`.
 */
export function registerEventRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get('/v1/devices/:id/events', async (request) => {
    const { id } = parseRequest(DeviceParamsSchema, request.params, 'path');
    const query = parseRequest(EventsQuerySchema, request.query, 'query');
    await requireDevice(deps.store, id, { removed: 'found' });
    const after = query.after === undefined ? undefined : parseAfter(query.after, query.lane, query.epoch);
    const events = await deps.store.listEvents(id, {
      lane: query.lane,
      epoch: query.epoch,
      after,
      limit: query.limit,
    });
    const last = events.at(-1);
    const next = events.length === query.limit && last !== undefined ? eventCursor(last) : undefined;
    return next === undefined ? { events: events.map(eventView) } : { events: events.map(eventView), next };
  });
}

/** Query of `GET /v1/devices/:id/rescores`. */
export const RescoresQuerySchema = z.strictObject({
  limit: z.coerce.number<unknown>().int().min(1).max(EVENTS_MAX_LIMIT).default(EVENTS_DEFAULT_LIMIT),
});

/**
 * `GET /v1/devices/:id/rescores?limit=` → `{rescores: [{epoch, lane, seq, model, version,
 * engine, outputs, error, at}]}`: the hub model's answers to inputs the device queued for
 * cloud re-scoring while offline, keyed by the queued event.
 */
export function registerRescoreRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get('/v1/devices/:id/rescores', async (request) => {
    const { id } = parseRequest(DeviceParamsSchema, request.params, 'path');
    const { limit } = parseRequest(RescoresQuerySchema, request.query, 'query');
    await requireDevice(deps.store, id, { removed: 'found' });
    const rescores = await deps.store.listRescores(id, limit);
    return { rescores: rescores.map(({ deviceId: _device, ...rest }) => rest) };
  });
}
