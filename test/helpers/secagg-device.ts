/**
 * A device of a secure-aggregation round at the wire-protocol level, for tests that restart
 * the hub or kill a replica mid-round: it connects with its own credentials (reconnecting
 * while the hub is away), reads its desired state, and answers each phase with the agent's
 * own `SecAggRunner` (agent/federated/secagg-runner.ts) over a fixed "trained" delta, sending
 * the events on the `learning` lane and resending a batch until some hub acks it. Messages of
 * chosen types can be held back (the phase then waits for this device) and released later.
 * With it, what those tests share of the round: its task fields and the check of its new model.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { SecAggRunner } from '../../agent/federated/secagg-runner.js';
import { agentMigrations } from '../../agent/store/migrations.js';
import type { AgentEvent } from '../../agent/types.js';
import { decodeUpdate, type ModelWeights } from '../../federated/index.js';
import { deviceTopic, runMigrations, type UplinkBatch } from '../../shared/index.js';
import type { FlTask } from '../../shared/messages/federated.js';
import { waitFor } from './fixtures.js';

/** A connected secure-aggregation device. */
export interface SecAggDevice {
  id: string;
  /** Event types sent so far (in order). */
  readonly sent: string[];
  /** Holds back events of these types (`fl.secagg.shares`, `fl.update.chunk`, …) from now on. */
  hold(types: string[]): void;
  /** Sends what was held back of these types (default: all) and stops holding them. */
  release(types?: string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connects `creds` to `brokerUrl` and takes part in every secure round published to it,
 * contributing `delta` for `examples` examples. `resendMs`: ack timeout before a resend.
 */
export async function connectSecAggDevice(
  brokerUrl: string,
  creds: { id: string; secret: string },
  delta: ModelWeights,
  examples: number,
  resendMs = 2000,
): Promise<SecAggDevice> {
  const client: MqttClient = await waitFor(
    () =>
      mqtt
        .connectAsync(brokerUrl, {
          protocolVersion: 4,
          clientId: creds.id,
          username: creds.id,
          password: creds.secret,
          reconnectPeriod: 200,
          connectTimeout: 5000,
        })
        .catch(() => false as const),
    `the broker to accept ${creds.id}`,
  );
  const acks = new Set<string>();
  const held: AgentEvent[] = [];
  const holding = new Set<string>();
  const sent: string[] = [];
  let seq = 0;
  let batches = 0;
  let closed = false;
  let chain: Promise<void> = Promise.resolve();

  const online = () =>
    client.publishAsync(
      deviceTopic(creds.id, 'status'),
      JSON.stringify({ v: 1, state: 'online', conn: `conn-${creds.id}`, at: Date.now() }),
      { qos: 1, retain: true },
    );
  // After a reconnect (a restarted hub with its embedded broker), the device says so again.
  client.on('connect', () => {
    if (!closed) online().catch(() => undefined);
  });

  const send = async (events: AgentEvent[]) => {
    const batch = {
      v: 1,
      epoch: `epoch-${creds.id}`.slice(0, 40),
      lane: 'learning',
      batchId: `${creds.id}-${++batches}`,
      events: events.map((e) => ({ seq: ++seq, type: e.type, at: Date.now(), body: e.body })),
    } as UplinkBatch;
    sent.push(...events.map((e) => e.type));
    for (;;) {
      if (closed) return;
      await client
        .publishAsync(deviceTopic(creds.id, 'up'), JSON.stringify(batch), { qos: 1 })
        .catch(() => undefined);
      const ok = await waitFor(() => acks.has(batch.batchId), 'ack', resendMs).catch(() => false);
      if (ok) return;
    }
  };
  const enqueue = (events: AgentEvent[]) => {
    const now = events.filter((e) => !holding.has(e.type));
    held.push(...events.filter((e) => holding.has(e.type)));
    if (now.length > 0) chain = chain.then(() => send(now));
  };
  // The runner keeps its rounds in an agent store; this device's lives in memory.
  const db = new Database(':memory:');
  runMigrations(db, agentMigrations('e'.repeat(22), Date.now()));
  const runner = new SecAggRunner({ deviceId: creds.id, db, enqueue, log: pino({ level: 'silent' }) });
  const norm = Math.sqrt(delta.reduce((n, w) => n + w.values.reduce((m, x) => m + x * x, 0), 0));

  client.on('message', (topic, payload) => {
    if (topic === deviceTopic(creds.id, 'ack')) {
      const ack = JSON.parse(payload.toString()) as { batchId?: string };
      if (typeof ack.batchId === 'string') acks.add(ack.batchId);
      return;
    }
    const desired = JSON.parse(payload.toString()) as { federated?: { task?: FlTask } };
    const task = desired.federated?.task;
    if (task?.secagg === undefined) return;
    if (!runner.has(task)) {
      if (task.secagg.phase === 'advertise')
        runner.start(task, { delta, examples, norm, clipped: false, loss: 1, accuracy: 0.5 });
      return;
    }
    runner.step(task);
  });
  await client.subscribeAsync([deviceTopic(creds.id, 'ack'), deviceTopic(creds.id, 'desired')], { qos: 1 });
  await online();
  return {
    id: creds.id,
    sent,
    hold(types) {
      for (const t of types) holding.add(t);
    },
    async release(types) {
      const which = new Set(types ?? holding);
      for (const t of which) holding.delete(t);
      const events = held.filter((e) => which.has(e.type));
      held.splice(0, held.length, ...held.filter((e) => !which.has(e.type)));
      if (events.length > 0) chain = chain.then(() => send(events));
      await chain;
    },
    async close() {
      closed = true;
      await client.endAsync(true).catch(() => undefined);
      db.close();
    },
  };
}

/** A delta of the shapes of `weights`: every value `value`. */
export function constantDelta(weights: ModelWeights, value: number): ModelWeights {
  return weights.map((w) => ({
    ...w,
    values: new Float32Array(w.values.length).fill(value),
  })) as ModelWeights;
}

/** What a device contributes to a secure round in these tests: a constant delta, for `examples`. */
export interface SecAggContribution {
  delta: number;
  examples: number;
}

/**
 * The task fields (for `taskBody`, test/fl-system/fleet.ts) of a one-round secure task over
 * the `clients` devices `selector` matches, t = 2, without evaluation. Its deadline (300 s) is
 * never reached in a test, so a phase ends only once every device answered: a device holding
 * a message back keeps the round in that phase.
 */
export function secureRoundTask(task: {
  id: string;
  selector: Record<string, string>;
  clients: number;
  maxExamples: number;
}): Record<string, unknown> {
  return {
    id: task.id,
    rounds: 1,
    minClients: task.clients,
    selector: task.selector,
    evaluate: false,
    deadlineS: 300,
    secagg: { threshold: 2, maxExamples: task.maxExamples },
  };
}

/**
 * Asserts that `next` (a round's new global weights, base64 as the task API gives them) is
 * `start` plus the example-weighted mean of the devices' constant deltas, within the
 * fixed-point bound: at scale 2^16 each summed entry of Σw·δ is off by at most half a unit per
 * device, and the mean divides by Σw = examples / maxExamples, which carries the same error.
 */
export function assertSecureMean(
  start: ModelWeights,
  next: string,
  devices: readonly SecAggContribution[],
  maxExamples: number,
): void {
  const examples = devices.reduce((n, d) => n + d.examples, 0);
  const mean = devices.reduce((n, d) => n + d.examples * d.delta, 0) / examples;
  const shapes = start.map((w) => ({ name: w.name, shape: w.shape }));
  const weights = decodeUpdate(Buffer.from(next, 'base64'), shapes);
  let maxDiff = 0;
  for (const [i, t] of weights.entries()) {
    const first = start[i]?.values as Float32Array;
    for (let k = 0; k < t.values.length; k++)
      maxDiff = Math.max(maxDiff, Math.abs((t.values[k] as number) - ((first[k] as number) + mean)));
  }
  const bound = (2 * devices.length) / (2 * 65536) / (examples / maxExamples) + 1e-6;
  assert.ok(maxDiff <= bound, `the new model is off by ${maxDiff} > ${bound}`);
}
