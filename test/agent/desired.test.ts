import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createAgent } from '../../agent/index.js';
import type { ReportedState } from '../../shared/index.js';
import { agentTestConfig, TestBroker, tempDir, waitFor } from '../helpers/agent.js';

// Desired-state handling against a bare broker: the "hub" publishes retained documents by hand,
// including stale and invalid ones the real hub would never send.

const ID = 'dev-desired-doc';
const DESIRED = `outpost/v1/d/${ID}/desired`;
const STATE = `outpost/v1/d/${ID}/state`;

/** A pino logger at `info` whose JSON lines are kept in `lines`. */
function capturingLogger() {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe('agent desired state', () => {
  let tb: TestBroker;
  const dir = tempDir();
  before(async () => {
    tb = await TestBroker.start();
  });
  after(async () => {
    await tb.close();
    dir.remove();
  });

  const doc = (rev: number, config: Record<string, unknown>) =>
    JSON.stringify({ v: 1, rev, at: 1000 + rev, config });
  const lastState = () => tb.messages<ReportedState>(STATE).at(-1);
  const start = (logger: pino.Logger) =>
    createAgent(
      agentTestConfig({
        deviceId: ID,
        deviceSecret: 'a-device-secret-of-some-length',
        dataDir: dir.path,
        hub: { mqttUrl: tb.url },
      }),
      { logger },
    );

  it('applies newer revs, ignores equal ones, marks older ones stale and invalid ones rejected', async () => {
    await tb.publish(
      DESIRED,
      doc(2, { logLevel: 'debug', reportIntervalS: 120, labels: { zone: 'a' } }),
      true,
    );
    const { logger, lines } = capturingLogger();
    const agent = await start(logger);
    try {
      // Applied from the retained document on connect, then reported.
      const applied = await waitFor(
        () => (lastState()?.appliedRev === 2 ? lastState() : undefined),
        'rev 2 reported',
      );
      assert.deepEqual(applied.config, { logLevel: 'debug', reportIntervalS: 120, labels: { zone: 'a' } });
      assert.equal(applied.desired?.status, 'applied');
      // The log level changed at run time: debug lines appear, none before the apply.
      const appliedAt = lines.findIndex((l) => l.msg === 'desired state applied');
      assert.ok(appliedAt >= 0);
      assert.ok(lines.slice(0, appliedAt).every((l) => l.level >= 30));
      await waitFor(() => lines.slice(appliedAt).some((l) => l.level === 20), 'a debug line');

      const reports = tb.messages(STATE).length;
      await tb.publish(DESIRED, doc(2, { logLevel: 'debug' }), true);
      await tb.publish(DESIRED, doc(1, { logLevel: 'error' }), true);
      const stale = await waitFor(
        () => (lastState()?.desired?.status === 'stale' ? lastState() : undefined),
        'stale',
      );
      assert.equal(tb.messages(STATE).length, reports + 1, 'the equal rev needed nothing, not even a report');
      assert.equal(stale.appliedRev, 2);
      assert.equal(stale.desired?.rev, 1);
      assert.match(stale.desired?.reason ?? '', /older/);
      assert.equal(stale.config.logLevel, 'debug');

      await tb.publish(DESIRED, JSON.stringify({ v: 1, rev: 7, at: 1, config: { logLevel: 'loud' } }), true);
      const rejected = await waitFor(
        () => (lastState()?.desired?.status === 'rejected' ? lastState() : undefined),
        'rejected',
      );
      assert.equal(rejected.desired?.rev, 7);
      assert.match(rejected.desired?.reason ?? '', /config\.logLevel/);
      assert.equal(rejected.appliedRev, 2);
      await tb.publish(DESIRED, 'not even json', true);
      await waitFor(() => agent.status().inbound.invalid.total === 2, 'both invalid documents counted');
      assert.equal(agent.status().desired.outcome?.rev, 7, 'an unreadable rev leaves the outcome as it was');

      await tb.publish(DESIRED, doc(3, { reportIntervalS: 60 }), true);
      await waitFor(() => lastState()?.appliedRev === 3, 'rev 3 reported');
      assert.deepEqual(
        lastState()?.config,
        { logLevel: 'info', reportIntervalS: 60 },
        'absent fields fall back',
      );
      assert.deepEqual(agent.status().desired, { appliedRev: 3, outcome: lastState()?.desired });
    } finally {
      await agent.close();
    }
  });

  it('keeps the applied state and its log level across a restart', async () => {
    await tb.publish(DESIRED, doc(4, { logLevel: 'debug' }), true);
    const first = await start(capturingLogger().logger);
    await waitFor(() => first.status().desired.appliedRev === 4, 'rev 4 applied');
    await first.close();

    const { logger, lines } = capturingLogger();
    await tb.publish(DESIRED, '', true); // clear the retained document: only the store can tell
    const again = await start(logger);
    try {
      assert.equal(again.status().desired.appliedRev, 4);
      assert.equal(again.status().desired.outcome?.status, 'applied');
      await waitFor(() => lines.some((l) => l.level === 20), 'debug lines from the restored level');
      await waitFor(() => again.status().link.connected, 'connected');
      const state = await waitFor(
        () => tb.messages<ReportedState>(STATE).findLast((s) => s.startedAt === again.status().startedAt),
        'state of the new run',
      );
      assert.equal(state.appliedRev, 4);
      assert.equal(state.config.logLevel, 'debug');
      assert.equal(again.status().inbound.invalid.total, 0, 'an empty retained document is not invalid');
    } finally {
      await again.close();
    }
  });
});
