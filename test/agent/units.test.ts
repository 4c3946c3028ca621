import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEventInput } from '../../agent/outbox/event-input.js';
import { Signal } from '../../agent/util/signal.js';
import { OutpostError } from '../../shared/index.js';

describe('Signal', () => {
  it('remembers a notification made before the wait (no lost wake-up)', async () => {
    const signal = new Signal();
    signal.notify();
    assert.equal(await signal.wait(), true);
    assert.equal(await signal.wait(1), false, 'consumed once');
  });

  it('wakes every current waiter', async () => {
    const signal = new Signal();
    const waits = [signal.wait(), signal.wait(10_000)];
    signal.notify();
    assert.deepEqual(await Promise.all(waits), [true, true]);
    assert.equal(await signal.wait(1), false, 'nothing left pending after waking waiters');
  });
});

describe('event input', () => {
  const problems = (value: unknown): string[] => {
    try {
      parseEventInput(value);
    } catch (err) {
      assert.ok(err instanceof OutpostError);
      assert.equal(err.code, 'AGENT_BAD_REQUEST');
      return err.details as string[];
    }
    assert.fail('expected a bad request');
  };

  it('defaults to the telemetry lane and serialises the body', () => {
    assert.deepEqual(parseEventInput({ type: 'a.b-c_d', body: { x: [1, 'é'] } }), {
      type: 'a.b-c_d',
      lane: 'telemetry',
      bodyJson: '{"x":[1,"é"]}',
    });
    assert.equal(parseEventInput({ type: 'n', body: null, lane: 'learning' }).lane, 'learning');
  });

  it('lists every problem at once', () => {
    const list = problems({ type: '9lives', lane: 'bulk', extra: true });
    assert.ok(list.some((p) => p.startsWith('type: ')));
    assert.ok(list.some((p) => p.startsWith('body: ')));
    assert.ok(list.some((p) => p.startsWith('lane: ')));
    assert.ok(list.some((p) => p.includes('extra')));
    assert.ok(problems('nope').some((p) => p.startsWith('(root): ')));
  });

  it('refuses a body that is not JSON', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.ok(problems({ type: 'x', body: cyclic }).some((p) => p.startsWith('body: not serialisable')));
    assert.ok(problems({ type: 'x', body: 1n }).some((p) => p.startsWith('body: not serialisable')));
  });
});
