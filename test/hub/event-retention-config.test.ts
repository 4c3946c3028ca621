import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HubConfigSchema } from '../../hub/config.js';
import { laneLimitsMs, learningKeep } from '../../hub/events/retention.js';
import { configFromEnv, configFromFlags } from '../../shared/index.js';

const DAY_MS = 24 * 60 * 60 * 1000;

test('events.retention: by default every event is kept; a lane limit applies to its lane alone', () => {
  const defaults = HubConfigSchema.parse({}).events.retention;
  assert.deepEqual(laneLimitsMs(defaults), {
    control: undefined,
    results: undefined,
    telemetry: undefined,
    learning: undefined,
  });
  assert.deepEqual([defaults.batchRows, defaults.intervalMinutes], [500, 60]);

  const flags = configFromFlags([
    '--events.retention.max-age-days',
    '90',
    '--events.retention.lanes.telemetry',
    '7',
  ]).config;
  const limits = laneLimitsMs(HubConfigSchema.parse(flags).events.retention);
  assert.deepEqual(limits, {
    control: 90 * DAY_MS,
    results: 90 * DAY_MS,
    telemetry: 7 * DAY_MS,
    learning: 90 * DAY_MS,
  });

  const env = configFromEnv({ OUTPOST_HUB_EVENTS__RETENTION__LANES__RESULTS: '30' }, 'OUTPOST_HUB_');
  assert.deepEqual(laneLimitsMs(HubConfigSchema.parse(env).events.retention), {
    control: undefined,
    results: 30 * DAY_MS,
    telemetry: undefined,
    learning: undefined,
  });
  assert.equal(
    HubConfigSchema.safeParse({ events: { retention: { maxAgeDays: 0 } } }).success,
    false,
    'a limit of 0 days would delete everything at once',
  );
});

test('learning events a running task may still take: a sync task from its current round, an async one within maxStaleness', () => {
  const task = (id: string, spec: Record<string, unknown>, status: 'running' | 'stopped', round: number) => ({
    id,
    spec,
    status,
    round,
    serverState: null,
    best: null,
    reason: null,
    createdAt: 1,
    updatedAt: 1,
  });
  assert.deepEqual(
    learningKeep([
      task('sync', { mode: 'sync' }, 'running', 7),
      task('async', { mode: 'async', maxStaleness: 3 }, 'running', 10),
      task('ended', { mode: 'sync' }, 'stopped', 4),
    ]),
    [
      { task: 'sync', fromRound: 7 },
      { task: 'async', fromRound: 7 },
    ],
  );
});
