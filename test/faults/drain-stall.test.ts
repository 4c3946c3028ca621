import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/fixtures.js';
import { SuiteEnv } from './suite/env.js';
import { StoreSession } from './suite/session.js';
import { sleep } from './trials/plan.js';

// A fault trial's drain deadline is a safety net for an agent that does not deliver: an agent
// frozen for a while (here SIGSTOP, on a loaded machine a synchronous commit held up by a
// stalled disk) gets that time back, and so does one whose hub another trial took down; an
// agent that runs but cannot deliver still fails, with a fresh status in the report.

/** The drain deadline of the passing cases, and a freeze or outage well beyond it, ms. */
const DEADLINE_MS = 5_000;
const FROZEN_MS = 8_000;
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
        /not drained after 1000 ms: outbox .*"pending":30/.test(err.message) &&
        /"connected":false/.test(err.message) &&
        !/ms more/.test(err.message),
    );
  });

  it('gives a frozen agent its frozen time back, and the drain passes once it runs again', async () => {
    const agent = session.agent;
    process.kill(agent.pid, 'SIGSTOP');
    session.proxy.heal();
    const resume = sleep(FROZEN_MS).then(() => process.kill(agent.pid, 'SIGCONT'));
    try {
      // Less time than the freeze: only the credit lets it pass.
      const status = await session.waitDrained(DEADLINE_MS);
      assert.equal(status.outbox.results.pending, 0);
    } finally {
      await resume;
    }
    const { tally, problems } = await session.check();
    assert.deepEqual(problems, []);
    assert.equal(tally.ingested, PLAN.count);
  });

  it('does not count the time the hub was down (a restart by another trial)', async () => {
    await env.hubDown(false);
    const tag = session.enqueue({ ...PLAN, seed: 8 });
    await session.agent.enqueueDone(tag, 30_000);
    const back = sleep(FROZEN_MS).then(() => env.hubUp());
    try {
      // Less time than the outage: only the credit lets it pass.
      const status = await session.waitDrained(DEADLINE_MS);
      assert.equal(status.outbox.results.pending, 0);
    } finally {
      await back;
    }
    assert.deepEqual((await session.check()).problems, []);
  });
});
