import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AGENT_ENV_PREFIX, AgentConfigSchema } from '../../agent/config.js';
import { DEFAULT_LANE_QUOTAS, DEFAULT_LANE_WEIGHTS } from '../../agent/outbox/outbox-config.js';
import {
  ConfigError,
  configFromEnv,
  configFromFlags,
  LANES,
  mergeConfig,
  parseConfig,
} from '../../shared/index.js';

// Outbox settings: per-lane quotas, policies and TTLs, window, weights, ping.

const base = { deviceId: 'dev-1', deviceSecret: 'a-device-secret-of-some-length' };

test('defaults: lane quotas and policies, window 8, weights 8/4/2/1, ping 15 s / 10 s', () => {
  const cfg = AgentConfigSchema.parse(base);
  assert.deepEqual(cfg.outbox.lanes, DEFAULT_LANE_QUOTAS);
  assert.deepEqual(cfg.outbox.weights, DEFAULT_LANE_WEIGHTS);
  assert.equal(cfg.outbox.window, 8);
  assert.equal(cfg.outbox.lanes.control.policy, 'back-pressure');
  assert.equal(cfg.outbox.lanes.telemetry.policy, 'drop-oldest');
  assert.deepEqual([cfg.link.pingIntervalMs, cfg.link.pingTimeoutMs], [15_000, 10_000]);
});

test('a lane setting comes from env or flags, the rest of the lane keeps its defaults', () => {
  const env = configFromEnv(
    { OUTPOST_AGENT_OUTBOX__LANES__TELEMETRY__MAX_ROWS: '5000', OUTPOST_AGENT_OUTBOX__WINDOW: '16' },
    AGENT_ENV_PREFIX,
  );
  const flags = configFromFlags([
    '--outbox.lanes.results.policy',
    'drop-oldest',
    '--link.ping-interval-ms',
    '0',
  ]);
  const cfg = parseConfig(AgentConfigSchema, mergeConfig(base, env, flags.config));
  assert.deepEqual(cfg.outbox.lanes.telemetry, { ...DEFAULT_LANE_QUOTAS.telemetry, maxRows: 5000 });
  assert.equal(cfg.outbox.lanes.results.policy, 'drop-oldest');
  assert.equal(cfg.outbox.window, 16);
  assert.equal(cfg.link.pingIntervalMs, 0, '0 turns the ping off');
});

test('bad values name their path: unknown policy, zero weight, tiny ping, unknown lane', () => {
  const bad = {
    ...base,
    outbox: { lanes: { control: { policy: 'drop-newest' }, video: {} }, weights: { learning: 0 } },
    link: { pingIntervalMs: 10 },
  };
  assert.throws(
    () => parseConfig(AgentConfigSchema, bad),
    (err: unknown) => {
      const problems = (err as ConfigError).problems.join('\n');
      return (
        err instanceof ConfigError &&
        /outbox\.lanes\.control\.policy: /.test(problems) &&
        /outbox\.lanes: Unrecognized key: "video"/.test(problems) &&
        /outbox\.weights\.learning: /.test(problems) &&
        /link\.pingIntervalMs: must be 0 \(off\) or at least 50/.test(problems)
      );
    },
  );
});

test('every lane of LANES has a quota and a weight (none silently unlimited), and only those', () => {
  const cfg = AgentConfigSchema.parse(base);
  assert.deepEqual(Object.keys(cfg.outbox.lanes), [...LANES]);
  assert.deepEqual(Object.keys(cfg.outbox.weights), [...LANES]);
  for (const lane of LANES) {
    assert.deepEqual(cfg.outbox.lanes[lane], DEFAULT_LANE_QUOTAS[lane]);
    assert.equal(cfg.outbox.weights[lane], DEFAULT_LANE_WEIGHTS[lane]);
  }
  assert.equal(AgentConfigSchema.safeParse({ ...base, outbox: { lanes: { video: {} } } }).success, false);
});
