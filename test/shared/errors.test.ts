import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_CODES, type ErrorCode, isOutpostError, OutpostError } from '../../shared/index.js';

const codes = Object.keys(ERROR_CODES) as ErrorCode[];

test('every code is prefixed by its owner and written in upper snake case', () => {
  for (const code of codes) assert.match(code, /^(AGENT|HUB|PROTO|INFER|FL)_[A-Z0-9]+(_[A-Z0-9]+)*$/, code);
});

test('every code has a message, a 4xx/5xx status and a retry flag that agrees with it', () => {
  for (const code of codes) {
    const spec: { message: string; http: number; retryable: boolean } = ERROR_CODES[code];
    assert.ok(spec.message.length > 0, code);
    assert.ok(spec.http >= 400 && spec.http <= 599, `${code}: ${spec.http}`);
    // A client error never becomes right by retrying the same request, except 429.
    if (spec.http < 500 && spec.http !== 429) assert.equal(spec.retryable, false, code);
    // 503 means "try again later" by definition.
    if (spec.http === 503) assert.equal(spec.retryable, true, code);
  }
});

test('OutpostError carries the table and answers {error: {code, message}}', () => {
  const err = new OutpostError('HUB_DEVICE_EXISTS');
  assert.ok(isOutpostError(err));
  assert.ok(err instanceof Error);
  assert.equal(err.http, 409);
  assert.equal(err.retryable, false);
  assert.deepEqual(err.toBody(), {
    error: { code: 'HUB_DEVICE_EXISTS', message: ERROR_CODES.HUB_DEVICE_EXISTS.message },
  });
  const custom = new OutpostError('AGENT_OUTBOX_FULL', 'lane results is full', {
    details: { lane: 'results' },
  });
  assert.deepEqual(custom.toBody(), {
    error: { code: 'AGENT_OUTBOX_FULL', message: 'lane results is full', details: { lane: 'results' } },
  });
  assert.equal(isOutpostError(new Error('x')), false);
});
