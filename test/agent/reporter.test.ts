import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { buildReportedState, StateReporter } from '../../agent/state/reported.js';
import { ReportedStateSchema } from '../../shared/index.js';
import { testLogger } from '../helpers/agent.js';

describe('reported state', () => {
  it('builds a valid ReportedState with host and version', () => {
    const state = buildReportedState({
      at: 5,
      epoch: 'abcdefghijklmnopqrstuv',
      startedAt: 1,
      appliedRev: 3,
      outcome: { rev: 3, status: 'applied', at: 4 },
      config: { logLevel: 'info', reportIntervalS: 60 },
      outbox: {
        control: { pending: 1, enqueued: 2, acked: 1, dropped: 0, unconfirmed: 0, pendingBytes: 80 },
      },
    });
    assert.equal(ReportedStateSchema.safeParse(state).success, true);
    assert.equal(state.agentVersion, '0.1.0');
    assert.equal(state.host?.platform, process.platform);
    assert.equal(state.host?.arch, process.arch);
    assert.deepEqual(state.desired, { rev: 3, status: 'applied', at: 4 });
  });

  it('publishes every reportIntervalS, follows a new interval, and stops', () => {
    mock.timers.enable({ apis: ['setInterval'] });
    try {
      const sent: string[] = [];
      const reporter = new StateReporter({
        encode: () => Buffer.from('state'),
        publish: (payload) => {
          sent.push(payload.toString());
          return true;
        },
        log: testLogger(),
      });
      reporter.setIntervalS(60);
      mock.timers.tick(59_999);
      assert.equal(sent.length, 0);
      mock.timers.tick(1);
      assert.equal(sent.length, 1);
      reporter.setIntervalS(5);
      mock.timers.tick(15_000);
      assert.equal(sent.length, 4);
      assert.equal(reporter.intervalS, 5);
      reporter.stop();
      mock.timers.tick(60_000);
      assert.equal(sent.length, 4);
      reporter.setIntervalS(5);
      mock.timers.tick(60_000);
      assert.equal(sent.length, 4, 'a stopped reporter stays stopped');
    } finally {
      mock.timers.reset();
    }
  });

  it('reports false, without throwing, when the state cannot be built or sent', () => {
    const down = new StateReporter({
      encode: () => Buffer.from('x'),
      publish: () => false,
      log: testLogger(),
    });
    assert.equal(down.publishNow('test'), false);
    const broken = new StateReporter({
      encode: () => {
        throw new Error('store closed');
      },
      publish: () => true,
      log: testLogger(),
    });
    assert.equal(broken.publishNow('test'), false);
  });
});
