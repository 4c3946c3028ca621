import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../helpers/fixtures.js';
import { SuiteEnv } from './suite/env.js';
import { StoreSession } from './suite/session.js';
import { sleep } from './trials/plan.js';

// A fault trial's drain deadline is a safety net for an agent that does not deliver. It does
// not count the time the agent stood still (here SIGSTOP; on a loaded machine a synchronous
// commit held up by a stalled disk) nor the time the hub was down (another trial's restart).
// The agent here cannot deliver at all (its proxy refuses every connection), so each wait
// fails, and what is checked is when and with what account: deterministic under any load.

const DEADLINE_MS = 1_000;
/** How long the agent is frozen, or the hub down, during a wait, ms. */
const AWAY_MS = 3_000;
const PLAN = { count: 30, lanes: ['results' as const], seed: 7, padBytes: 0, paceEvery: 0, paceMs: 0 };

/** Runs a wait that must fail; returns its message and how long it took, ms. */
async function failedWait(session: StoreSession): Promise<{ message: string; ms: number }> {
  const t0 = Date.now();
  const err = await session.waitDrained(DEADLINE_MS).then(
    () => assert.fail('an agent that cannot reach the hub drained'),
    (e: Error) => e,
  );
  return { message: err.message, ms: Date.now() - t0 };
}

/** The credited ms the message names for `what`, or undefined. */
function credited(message: string, what: RegExp): number | undefined {
  const m = what.exec(message);
  return m ? Number(m[1]) : undefined;
}

describe('fault suite drain deadline', () => {
  const dir = tempDir('outpost-drain-stall-');
  let env: SuiteEnv;
  let session: StoreSession;

  before(async () => {
    env = await SuiteEnv.start(dir.path);
    session = await StoreSession.open(env, 'stall');
    await session.start();
    await session.goOffline();
    const tag = session.enqueue(PLAN);
    await session.agent.enqueueDone(tag, 30_000);
  });
  after(async () => {
    await session?.close();
    await env?.close();
    dir.remove();
  });

  it('fails an agent that runs but cannot deliver, with its fresh status and no credit', async () => {
    const { message } = await failedWait(session);
    assert.match(message, /^stall-1: not drained after 1000 ms: outbox .*"pending":30/);
    assert.match(message, /"connected":false/);
  });

  it('does not count the time the agent stood still', async () => {
    const agent = session.agent;
    process.kill(agent.pid, 'SIGSTOP');
    const resume = sleep(AWAY_MS).then(() => process.kill(agent.pid, 'SIGCONT'));
    const { message, ms } = await failedWait(session);
    await resume;
    const stood = credited(message, /the agent stood still 1 times, (\d+) ms in all/);
    assert.ok(stood !== undefined && stood >= AWAY_MS - 100, message);
    assert.ok(ms >= DEADLINE_MS + stood, `failed after ${ms} ms, before the credited deadline`);
  });

  it('does not count the time the hub was down', async () => {
    await env.hubDown(false);
    const back = sleep(AWAY_MS).then(() => env.hubUp());
    const { message, ms } = await failedWait(session);
    await back;
    const down = credited(message, /the hub was down (\d+) ms/);
    assert.ok(down !== undefined && down >= AWAY_MS - 100, message);
    assert.ok(ms >= DEADLINE_MS + down, `failed after ${ms} ms, before the credited deadline`);
  });
});
