import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chunk, SecAggClient, SecAggServer } from '../../federated/index.js';
import { SecAggRound, type SecureTask, takeMaskedInput } from '../../hub/federated/secagg-round.js';
import { type HubStore, openSqliteHubStore } from '../../hub/index.js';
import { tempDir } from '../helpers/fixtures.js';

// A hub's secure round takes each device's masked input from the store (chunk events of a real
// SQLite store, as filed) into one running sum: what the round holds of masked data stays one
// model-sized buffer as inputs arrive, an input seen twice is refused and not added again, and
// a round rebuilt from the store (a restarted hub, a replica taking over) sums the stored
// inputs again to the very same words.

const WORDS = 250_001; // a 250 000-parameter model plus the weight: 1 000 004 bytes per input
const SCALE = 65536;
const DEVICES = ['dev-a', 'dev-b', 'dev-c', 'dev-d', 'dev-e', 'dev-f'];
const value = (i: number, k: number) => Math.sin(i * 1.7 + k * 0.001) * 0.5;

describe('hub secure round: masked inputs into one running sum', () => {
  const dir = tempDir('outpost-secagg-sum-');
  let store: HubStore;
  const params = new SecAggServer({
    round: 1,
    threshold: 3,
    length: WORDS,
    scale: SCALE,
    maxAbs: 1,
    maxClients: DEVICES.length,
  }).params;
  const task = { id: 'sec', round: 1, mode: 'sync', deadline: 100 } as unknown as SecureTask;
  const clients = DEVICES.map((id) => new SecAggClient(id, params));

  /** A round in memory fed the devices' advertisements and shares, as a hub replays them. */
  const roundThroughSharing = (): SecAggRound => {
    const sa = new SecAggRound(task, params, 100, 1, 'mask');
    for (const c of clients) sa.server.receiveAdvertisement(c.advertise());
    sa.server.roster();
    for (const [i, c] of clients.entries()) sa.server.receiveShares(c.clientId, shares[i] as never);
    sa.server.submitted();
    return sa;
  };
  let shares: unknown[] = [];

  before(async () => {
    store = openSqliteHubStore(dir.path);
    await store.createFlTask(
      {
        id: 'sec',
        spec: { rounds: 1 },
        status: 'running',
        round: 1,
        serverState: null,
        best: null,
        reason: null,
        createdAt: 1,
        updatedAt: 1,
      },
      new Uint8Array([1]),
    );
    const round = {
      taskId: 'sec',
      round: 1,
      status: 'open' as const,
      selected: DEVICES,
      openedAt: 1,
      deadline: 100,
      closedAt: null,
      metrics: {},
    };
    await store.openSecAggRound(round, { phase: 'advertise', phaseAt: 1, params, maxExamples: 100, task });
    const keys = new SecAggServer(params);
    for (const c of clients) keys.receiveAdvertisement(c.advertise());
    const roster = keys.roster();
    shares = clients.map((c) => c.shareKeys(roster));
  });
  after(async () => {
    await store.close();
    dir.remove();
  });

  it('holds one sum as the inputs arrive; a rebuilt round sums the stored inputs to the same words', async () => {
    const live = roundThroughSharing();
    const u2 = live.server.submitted();
    // The last device drops out after sharing its keys: its masks are removed at the end.
    const sending = clients.slice(0, -1);
    const held: number[] = [];
    let inputBytes = 0;
    for (const [i, c] of sending.entries()) {
      const x = Float32Array.from({ length: WORDS }, (_, k) => value(i, k));
      const y = c.maskedInput(x, live.server.inboxFor(c.clientId), u2);
      const bytes = new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
      inputBytes += bytes.byteLength;
      for (const part of chunk(bytes, 256 * 1024))
        await store.putFlChunk({
          taskId: 'sec',
          round: 1,
          deviceId: c.clientId,
          ...part,
          meta: { examples: 10 + i },
          at: 2,
        });
      await takeMaskedInput(store, live, c.clientId);
      held.push(live.server.maskedBytesHeld);
    }
    assert.deepEqual(
      held,
      sending.map(() => WORDS * 4),
      `one sum of ${WORDS * 4} bytes held, not ${inputBytes} (every input)`,
    );
    assert.deepEqual([...live.masked].sort(), sending.map((c) => c.clientId).sort());

    // The same completion seen again: refused (the round fails rather than double-count).
    await assert.rejects(takeMaskedInput(store, live, 'dev-a'), /dev-a sent its masked input twice/);

    // A restarted hub, or a replica taking over, rebuilds its copy and sums the stored inputs.
    const rebuilt = roundThroughSharing();
    for (const c of sending) await takeMaskedInput(store, rebuilt, c.clientId);
    assert.equal(rebuilt.server.maskedBytesHeld, WORDS * 4);

    const u3 = live.server.survivors();
    assert.deepEqual(rebuilt.server.survivors(), u3);
    for (const c of sending) {
      const answer = c.unmask(u3);
      live.server.receiveUnmasking(answer);
      rebuilt.server.receiveUnmasking(answer);
    }
    const a = live.server.finish();
    const b = rebuilt.server.finish();
    assert.deepEqual(a.dropped, ['dev-f']);
    assert.deepEqual(Buffer.from(b.sum.buffer), Buffer.from(a.sum.buffer), 'the same sum, word for word');
    assert.deepEqual(
      u3.map((id) => live.examples.get(id)),
      [10, 11, 12, 13, 14],
    );

    const bound = u3.length / (2 * SCALE) + 1e-6;
    let worst = 0;
    for (let k = 0; k < WORDS; k++) {
      let plain = 0;
      for (let i = 0; i < sending.length; i++) plain += value(i, k);
      worst = Math.max(worst, Math.abs((a.sum[k] as number) - plain));
    }
    assert.ok(worst <= bound, `worst error ${worst} > ${bound}`);
  });
});
