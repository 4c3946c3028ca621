import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildMnistMlp, encodeUpdate } from '../../federated/index.js';
import { resolveTaskSpec } from '../../hub/federated/task-create.js';
import { OutpostError } from '../../shared/index.js';
import { MAX_EMBEDDED_WEIGHTS_CHARS } from '../../shared/messages/federated.js';

// Where the 192 KiB limit on a task's weights still applies: only on a hub without the
// artifact store (the weights could only travel embedded); a hub with one takes a secure task
// of any size, since its weights travel as an artifact and its masked inputs as uploads.

const model = buildMnistMlp(1, { hidden: [100] });
const weights = Buffer.from(encodeUpdate(model.weights, { compression: 'none' })).toString('base64');
const body = (extra: Record<string, unknown>) => ({
  model: { name: 'digits', version: '1.0.0' },
  topology: model.modelTopology,
  shapes: model.weights.map((w) => ({ name: w.name, shape: w.shape })),
  weights,
  minClients: 3,
  ...extra,
});

describe('the embedded-weights limit of a federated task', () => {
  it('is above these weights', () => {
    assert.ok(weights.length > MAX_EMBEDDED_WEIGHTS_CHARS, `${weights.length} base64 characters`);
  });

  for (const [name, extra] of [
    ['a secure task', { secagg: { threshold: 2 } }],
    ['a plain task', {}],
  ] as const) {
    it(`refuses ${name} above it on a hub without the artifact store, naming the limit`, async () => {
      await assert.rejects(
        resolveTaskSpec(body(extra), undefined, { artifacts: false }),
        (err: unknown) =>
          err instanceof OutpostError &&
          err.code === 'FL_BAD_PARAMS' &&
          err.message.includes(`the ${MAX_EMBEDDED_WEIGHTS_CHARS} a task embeds`) &&
          err.message.includes('no artifact store'),
      );
    });

    it(`takes ${name} above it on a hub with the artifact store`, async () => {
      const { spec, bytes } = await resolveTaskSpec(body(extra), undefined, { artifacts: true });
      assert.equal(bytes.byteLength, Buffer.from(weights, 'base64').byteLength);
      assert.equal(spec.secagg?.threshold, (extra as { secagg?: { threshold: number } }).secagg?.threshold);
    });
  }
});
