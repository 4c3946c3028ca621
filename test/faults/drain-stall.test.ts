import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/fixtures.js';
import { SuiteEnv } from './suite/env.js';
import { StoreSession } from './suite/session.js';
import { sleep } from './trials/plan.js';

// A fault trial's drain deadline is a safety net for an agent that does not deliver, counted
// in the agent's running time: an agent frozen for a while (here SIGSTOP, on a loaded machine
// a synchronous commit held up by a stalled disk) gets that time back, and an agent that runs
// but cannot deliver still fails, with a fresh status in the report.

const PLAN = { count: 30, lanes: ['results' as const], seed: 7, padBytes: 0, paceEvery: 0, paceMs: 0 };

describe('fault suite drain deadline', () => {
  const dir = tempDir('outpost-drain-stall-');
  let env: SuiteEnv;
  let session: StoreSession;

  before(async () => {
    env = await SuiteEnv.start(dir.path);
    session = await StoreSession.open(env, 'stall');
    await session.start();
  });
  after(async () => {
    await session?.close();
    await env?.close();
    dir.remove();
  });

  it('fails an agent that runs but cannot reach the hub, reporting its fresh link state', async () => {
    await session.goOffline();
    const tag = session.enqueue(PLAN);
    await session.agent.enqueueDone(tag, 30_000);
    await assert.rejects(
      session.waitDrained(1_000),
      (err: Error) =>
        /not drained after 1000 ms of running time: outbox .*"pending":30/.test(err.message) &&
        /"connected":false/.test(err.message) &&
        !/stood still/.test(err.message),
    );
  });

  it('gives a frozen agent its frozen time back, and the drain passes once it runs again', async () => {
    const agent = session.agent;
    process.kill(agent.pid, 'SIGSTOP');
    session.proxy.heal();
    const resume = sleep(2_500).then(() => process.kill(agent.pid, 'SIGCONT'));
    try {
      // 1 s of running time, far less than the freeze: only the credit lets it pass.
      const status = await session.waitDrained(1_000);
      assert.equal(status.outbox.results.pending, 0);
    } finally {
      await resume;
    }
    const { tally, problems } = await session.check();
    assert.deepEqual(problems, []);
    assert.equal(tally.ingested, PLAN.count);
  });
});
