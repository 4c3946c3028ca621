import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { parseSecAggParams } from '../../federated/index.js';
import type { HubStore } from '../../hub/index.js';
import type { SecAggRoundRecord } from '../../hub/store/secagg-types.js';
import { OutpostError } from '../../shared/index.js';
import type { FlTask } from '../../shared/messages/federated.js';
import { contract } from './suite.js';

// Secure-aggregation rounds as a store contract: a secure round opens with its round row in
// one transaction; device messages are checked against the stored phase and numbered,
// duplicates recognised; a phase ends only over the messages its driver read; the state of
// ended rounds is pruned; two handles taking messages at once never share a number.

const params = parseSecAggParams({ round: 1, threshold: 2, length: 4, maxClients: 4 });
const flTask = (id: string, round: number) =>
  ({ id, round, mode: 'sync', weights: 'AAAA', deadline: 100 }) as unknown as FlTask;
const roundOf = (taskId: string, round: number, selected = ['a', 'b', 'c']) => ({
  taskId,
  round,
  status: 'open' as const,
  selected,
  openedAt: 10,
  deadline: 100,
  closedAt: null,
  metrics: {},
});
const taskRecord = (id: string) => ({
  id,
  spec: { rounds: 3 },
  status: 'running' as const,
  round: 1,
  serverState: null,
  best: null,
  reason: null,
  createdAt: 1,
  updatedAt: 1,
});
const ad = (id: string) => ({
  task: 't',
  round: 1,
  advertisement: { clientId: id, encPublicKey: 'e', maskPublicKey: 'm' },
});
const inPhase =
  (phase: SecAggRoundRecord['phase']) =>
  (round: SecAggRoundRecord): void => {
    if (round.phase !== phase) throw new OutpostError('FL_SECAGG_FAILED', `not in phase ${phase}`);
  };

contract('HubStore contract: secure-aggregation rounds', (ctx) => {
  let store: HubStore;
  before(() => {
    store = ctx().store;
  });

  test('a secure round opens once, with its round row; messages are checked, numbered, deduplicated', async () => {
    await store.createFlTask(taskRecord('t'), new Uint8Array([1]));
    const state = { phase: 'advertise' as const, phaseAt: 10, params, maxExamples: 50, task: flTask('t', 1) };
    assert.equal(await store.openSecAggRound(roundOf('t', 1), state), true);
    assert.equal(await store.openSecAggRound(roundOf('t', 1, ['x']), state), false, 'the round exists');
    assert.deepEqual((await store.getFlRound('t', 1))?.selected, ['a', 'b', 'c']);
    const stored = await store.getSecAggRound('t', 1);
    assert.deepEqual(
      [
        stored?.phase,
        stored?.phaseAt,
        stored?.params,
        stored?.maxExamples,
        stored?.task,
        stored?.roster,
        stored?.seq,
      ],
      ['advertise', 10, params, 50, flTask('t', 1), null, 0],
    );

    const take = (device: string, body: unknown, accept = inPhase('advertise')) =>
      store.addSecAggMessage(
        { taskId: 't', round: 1, deviceId: device, kind: 'advertise', body, at: 20 },
        accept,
      );
    assert.equal(await take('a', ad('a')), 'stored');
    assert.equal(await take('b', ad('b')), 'stored');
    assert.equal(await take('a', ad('a')), 'duplicate', 'the same message again (a resend, a re-filing)');
    await assert.rejects(take('a', ad('other-keys')), /a sent advertise twice/);
    await assert.rejects(
      take('c', ad('c'), () => {
        throw new OutpostError('FL_SECAGG_FAILED', 'refused by the check');
      }),
      /refused by the check/,
    );
    await assert.rejects(
      store.addSecAggMessage(
        { taskId: 't', round: 9, deviceId: 'a', kind: 'advertise', body: {}, at: 1 },
        () => undefined,
      ),
      (err) => err instanceof OutpostError && err.code === 'FL_SECAGG_FAILED',
    );
    const messages = await store.listSecAggMessages('t', 1);
    assert.deepEqual(
      messages.map((m) => [m.deviceId, m.kind, m.seq]),
      [
        ['a', 'advertise', 1],
        ['b', 'advertise', 2],
      ],
    );
    assert.deepEqual(messages[0]?.body, ad('a'));
    assert.deepEqual(
      (await store.listSecAggMessages('t', 1, 1)).map((m) => m.deviceId),
      ['b'],
    );
    assert.equal((await store.getSecAggRound('t', 1))?.seq, 2);
  });

  test('a phase ends only over the messages its driver read', async () => {
    const roster = [
      { clientId: 'a', encPublicKey: 'e', maskPublicKey: 'm' },
      { clientId: 'b', encPublicKey: 'e', maskPublicKey: 'm' },
    ];
    const to = { phase: 'share' as const, phaseAt: 30, roster };
    assert.equal(
      await store.advanceSecAggRound('t', 1, { phase: 'advertise', seq: 1 }, to),
      false,
      'seq 2 was taken',
    );
    assert.equal(
      await store.advanceSecAggRound('t', 1, { phase: 'share', seq: 2 }, to),
      false,
      'not in that phase',
    );
    assert.equal(await store.advanceSecAggRound('t', 1, { phase: 'advertise', seq: 2 }, to), true);
    const shared = await store.getSecAggRound('t', 1);
    assert.deepEqual(
      [shared?.phase, shared?.phaseAt, shared?.roster, shared?.submitted],
      ['share', 30, roster, null],
    );
    // Fixing U2 keeps the roster.
    assert.equal(
      await store.advanceSecAggRound(
        't',
        1,
        { phase: 'share', seq: 2 },
        { phase: 'mask', phaseAt: 40, submitted: ['a', 'b'] },
      ),
      true,
    );
    const masking = await store.getSecAggRound('t', 1);
    assert.deepEqual([masking?.phase, masking?.roster, masking?.submitted], ['mask', roster, ['a', 'b']]);
  });

  test('two handles taking messages at once number them 1..n without a gap or a repeat', async () => {
    await store.createFlTask(taskRecord('t2'), new Uint8Array([1]));
    const state = {
      phase: 'advertise' as const,
      phaseAt: 10,
      params,
      maxExamples: 50,
      task: flTask('t2', 1),
    };
    assert.equal(await store.openSecAggRound(roundOf('t2', 1), state), true);
    const second = await ctx().space.open();
    try {
      const ids = Array.from({ length: 12 }, (_, i) => `d${i}`);
      const results = await Promise.all(
        ids.flatMap((id, i) =>
          [store, second].map((s) =>
            s.addSecAggMessage(
              { taskId: 't2', round: 1, deviceId: id, kind: 'advertise', body: { n: i }, at: 1 },
              inPhase('advertise'),
            ),
          ),
        ),
      );
      assert.equal(results.filter((r) => r === 'stored').length, ids.length, 'each stored once');
      assert.equal(results.filter((r) => r === 'duplicate').length, ids.length);
      const seqs = (await second.listSecAggMessages('t2', 1)).map((m) => m.seq);
      assert.deepEqual(
        seqs,
        ids.map((_, i) => i + 1),
      );
    } finally {
      await second.close();
    }
  });

  test('the state of a round that ended, or whose task stopped, is pruned with its messages', async () => {
    assert.equal(await store.pruneSecAggRounds(), 0, 'both rounds are open, their tasks running');
    await store.closeFlRound({
      taskId: 't',
      round: 1,
      status: 'failed',
      closedAt: 50,
      metrics: {},
      updates: [],
      task: { round: 2 },
    });
    await store.updateFlTask('t2', { status: 'stopped' });
    assert.equal(await store.pruneSecAggRounds(), 2);
    assert.equal(await store.getSecAggRound('t', 1), undefined);
    assert.deepEqual(await store.listSecAggMessages('t', 1), []);
    assert.deepEqual(await store.listSecAggMessages('t2', 1), []);
  });
});
