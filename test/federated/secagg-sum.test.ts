import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SecAggClient, SecAggServer } from '../../federated/index.js';

// The secure-aggregation server keeps one running sum of the masked inputs, not the inputs:
// what it holds stays one input's size however many clients mask, it keeps no reference to an
// input it took, a refused input leaves the sum as it was, and the unmasked result is the
// plain sum of the survivors' values (dropped clients' masks removed) within the fixed-point
// bound.

const LENGTH = 3000;
const SCALE = 65536;

const value = (i: number, k: number) => Math.cos(i * 3.1 + k * 0.02) * 0.8;

describe('secure aggregation: one running sum', () => {
  it('holds one input-sized sum as inputs arrive, keeps none of them, and unmasks the plain sum', () => {
    const n = 8;
    const params = { round: 2, threshold: 5, length: LENGTH, scale: SCALE, maxAbs: 1, maxClients: 16 };
    const server = new SecAggServer(params);
    const clients = Array.from({ length: n }, (_, i) => new SecAggClient(`d-${i}`, params));
    for (const c of clients) server.receiveAdvertisement(c.advertise());
    const roster = server.roster();
    for (const c of clients) server.receiveShares(c.clientId, c.shareKeys(roster));
    const u2 = server.submitted();
    assert.equal(server.maskedBytesHeld, 0, 'nothing held before the first masked input');

    const droppedAfterShares = 'd-3';
    const held: number[] = [];
    for (const [i, c] of clients.entries()) {
      const x = Float32Array.from({ length: LENGTH }, (_, k) => value(i, k));
      const y = c.maskedInput(x, server.inboxFor(c.clientId), u2);
      if (c.clientId === droppedAfterShares) continue;
      if (i === 0) {
        // A refused input (wrong length) is not added: the sum stays as it was.
        assert.throws(() => server.receiveMaskedInput(c.clientId, y.subarray(1)), /words, expected/);
      }
      server.receiveMaskedInput(c.clientId, y);
      // A second delivery of the same input is refused, not added again.
      assert.throws(() => server.receiveMaskedInput(c.clientId, y), /twice/);
      held.push(server.maskedBytesHeld);
      // The caller may reuse the input's memory at once: the server kept no reference to it.
      y.fill(0xdeadbeef);
    }
    assert.deepEqual(
      held,
      Array.from({ length: n - 1 }, () => LENGTH * 4),
      'one sum of 4 bytes per word, whether 1 or 7 inputs are in it',
    );

    const u3 = server.survivors();
    assert.equal(u3.length, n - 1);
    const answering = clients.filter((c) => u3.includes(c.clientId));
    // Too few unmasking answers: refused before the sum is touched.
    for (const c of answering.slice(0, 4)) server.receiveUnmasking(c.unmask(u3));
    assert.throws(() => server.finish(), /4 unmasking answers; 5 needed/);
    for (const c of answering.slice(4)) server.receiveUnmasking(c.unmask(u3));

    const result = server.finish();
    assert.deepEqual(result.dropped, [droppedAfterShares]);
    assert.deepEqual(result.survivors, u3);
    const bound = u3.length / (2 * SCALE) + 1e-6;
    let worst = 0;
    for (let k = 0; k < LENGTH; k++) {
      let plain = 0;
      for (let i = 0; i < n; i++) if (`d-${i}` !== droppedAfterShares) plain += value(i, k);
      worst = Math.max(worst, Math.abs((result.sum[k] as number) - plain));
    }
    assert.ok(worst <= bound, `worst error ${worst} > ${bound}`);
    assert.equal(server.maskedBytesHeld, 0, 'the running sum is released once unmasked');
    assert.equal(server.finish(), result, 'finishing again returns the same result, masks not removed twice');
  });
});
