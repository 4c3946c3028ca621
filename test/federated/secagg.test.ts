import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  clipL2,
  createStrategy,
  decodeFixed,
  globalFromSecureSum,
  type ModelWeights,
  mulberry32,
  SecAggClient,
  SecAggServer,
  secureInput,
  secureInputLength,
  shamirCombine,
  shamirSplit,
} from '../../federated/index.js';

// Secure aggregation — the server learns the sum (== the plain sum within
// the fixed-point error), including when clients drop out after masking.

const LENGTH = 2000;
const SCALE = 65536;

function inputs(n: number): Float32Array[] {
  return Array.from({ length: n }, (_, i) =>
    Float32Array.from({ length: LENGTH }, (_, k) => Math.sin(i * 7.3 + k * 0.01) * 0.9),
  );
}

/** Runs a round; `dropAfterMasking` clients are lost between sending masked inputs and unmasking. */
function round(
  n: number,
  t: number,
  options: { dropBeforeSharing?: number[]; dropAfterShares?: number[]; dropAfterMasking?: number[] } = {},
) {
  const params = { round: 3, threshold: t, length: LENGTH, scale: SCALE, maxAbs: 1, maxClients: 32 };
  const server = new SecAggServer(params);
  const clients = Array.from(
    { length: n },
    (_, i) => new SecAggClient(`device-${String(i).padStart(2, '0')}`, params),
  );
  const xs = inputs(n);
  for (const c of clients) server.receiveAdvertisement(c.advertise());
  const roster = server.roster();
  const alive = (i: number, phase: number[] | undefined) => !(phase ?? []).includes(i);
  clients.forEach((c, i) => {
    const messages = c.shareKeys(roster);
    if (alive(i, options.dropBeforeSharing)) server.receiveShares(c.clientId, messages);
  });
  const u2 = server.submitted();
  const masked = new Map<string, Uint32Array>();
  clients.forEach((c, i) => {
    if (!u2.includes(c.clientId) || !alive(i, options.dropAfterShares)) return;
    const y = c.maskedInput(xs[i] as Float32Array, server.inboxFor(c.clientId), u2);
    masked.set(c.clientId, y);
    server.receiveMaskedInput(c.clientId, y);
  });
  const u3 = server.survivors();
  clients.forEach((c, i) => {
    if (u3.includes(c.clientId) && alive(i, options.dropAfterMasking)) server.receiveUnmasking(c.unmask(u3));
  });
  const result = server.finish();
  const plain = new Float32Array(LENGTH);
  clients.forEach((c, i) => {
    if (result.survivors.includes(c.clientId))
      for (let k = 0; k < LENGTH; k++)
        plain[k] = (plain[k] as number) + ((xs[i] as Float32Array)[k] as number);
  });
  return { server, clients, result, plain, masked, xs };
}

function assertSumsEqual(actual: Float32Array, expected: Float32Array, survivors: number) {
  const bound = survivors / (2 * SCALE) + 1e-6;
  let worst = 0;
  for (let k = 0; k < LENGTH; k++)
    worst = Math.max(worst, Math.abs((actual[k] as number) - (expected[k] as number)));
  assert.ok(worst <= bound, `worst error ${worst} > ${bound}`);
}

describe('Shamir over GF(2^8)', () => {
  it('any t of n shares recover the secret; t − 1 do not', () => {
    const secret = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
    const shares = shamirSplit(secret, 7, 4);
    assert.deepEqual(shamirCombine(shares.slice(0, 4)), secret);
    assert.deepEqual(shamirCombine([shares[6], shares[1], shares[4], shares[2]] as never), secret);
    assert.deepEqual(shamirCombine(shares), secret);
    assert.notDeepEqual(shamirCombine(shares.slice(0, 3)), secret);
    assert.throws(() => shamirSplit(secret, 3, 4), /threshold 4 of 3/);
    assert.throws(() => shamirCombine([shares[0], shares[0]] as never), /distinct/);
  });
});

describe('secure aggregation', () => {
  it('no dropout: the unmasked sum equals the plain sum; one masked input alone reveals nothing', () => {
    const { result, plain, masked, xs } = round(6, 4);
    assert.equal(result.survivors.length, 6);
    assert.deepEqual(result.dropped, []);
    assertSumsEqual(result.sum, plain, 6);
    // A single masked input decodes to noise spread over the whole ring, far from its input.
    const alone = decodeFixed(masked.get('device-00') as Uint32Array, SCALE);
    const x0 = xs[0] as Float32Array;
    let far = 0;
    for (let k = 0; k < LENGTH; k++) if (Math.abs((alone[k] as number) - (x0[k] as number)) > 100) far++;
    assert.ok(far > LENGTH * 0.9, `${far} of ${LENGTH} entries far from the input`);
  });

  for (const dropped of [[2], [1, 4]]) {
    it(`${dropped.length} client(s) dropping after masking: their masks are removed from the survivors' sum`, () => {
      const { result, plain } = round(6, 3, { dropAfterShares: dropped });
      assert.deepEqual(
        result.dropped,
        dropped.map((i) => `device-0${i}`),
      );
      assert.equal(result.survivors.length, 6 - dropped.length);
      assertSumsEqual(result.sum, plain, result.survivors.length);
    });
  }

  it('a survivor that does not answer unmasking is still summed when t others answer', () => {
    const { result, plain } = round(6, 3, { dropAfterShares: [5], dropAfterMasking: [0] });
    assert.ok(result.survivors.includes('device-00'));
    assertSumsEqual(result.sum, plain, 5);
  });

  it('a client that never shared keys is simply not in the round', () => {
    const { result, plain } = round(5, 3, { dropBeforeSharing: [3] });
    assert.deepEqual(result.dropped, []);
    assert.equal(result.survivors.length, 4);
    assertSumsEqual(result.sum, plain, 4);
  });

  it('too few survivors cannot finish; too few unmasking answers cannot finish', () => {
    assert.throws(
      () => round(5, 4, { dropAfterShares: [0, 1] }),
      /3 masked inputs arrived; the threshold is 4/,
    );
    assert.throws(() => round(5, 4, { dropAfterMasking: [0, 1] }), /3 unmasking answers; 4 needed/);
  });

  it('refuses late, duplicate and out-of-phase messages, tampered shares and out-of-range values', () => {
    const params = { round: 1, threshold: 2, length: 4, maxClients: 8 };
    const server = new SecAggServer(params);
    const [a, b, c] = ['a', 'b', 'c'].map((id) => new SecAggClient(id, params)) as [
      SecAggClient,
      SecAggClient,
      SecAggClient,
    ];
    for (const x of [a, b, c]) server.receiveAdvertisement(x.advertise());
    assert.throws(() => server.receiveAdvertisement(a.advertise()), /advertised twice/);
    const roster = server.roster();
    assert.throws(
      () => server.receiveAdvertisement({ ...a.advertise(), clientId: 'late' }),
      /after the roster was fixed/,
    );
    const sa = a.shareKeys(roster);
    const sb = b.shareKeys(roster);
    const sc = c.shareKeys(roster);
    assert.throws(() => server.receiveShares('a', sa.slice(1)), /exactly one share message to every other/);
    server.receiveShares('a', sa);
    server.receiveShares('b', sb);
    server.receiveShares('c', sc);
    const u2 = server.submitted();
    const tampered = server
      .inboxFor('b')
      .map((m) => ({ ...m, ciphertext: `${m.ciphertext.slice(0, 20)}A${m.ciphertext.slice(21)}` }));
    assert.throws(() => b.maskedInput(new Float32Array(4), tampered, u2), /do not authenticate|unexpected/);
    assert.throws(
      () => a.maskedInput(Float32Array.of(0, 2, 0, 0), server.inboxFor('a'), u2),
      /value 2 at 1 is outside ±1/,
    );
    const ya = a.maskedInput(Float32Array.of(0.5, 0, 0, -0.25), server.inboxFor('a'), u2);
    const yb = b.maskedInput(Float32Array.of(0.25, 0, 0, 0), server.inboxFor('b'), u2);
    server.receiveMaskedInput('a', ya);
    server.receiveMaskedInput('b', yb);
    assert.throws(() => server.receiveMaskedInput('a', ya), /twice/);
    const u3 = server.survivors();
    const yc = c.maskedInput(Float32Array.of(1, 1, 1, 1), server.inboxFor('c'), u2);
    assert.throws(() => server.receiveMaskedInput('c', yc), /outside the masking phase/);
    assert.throws(() => a.unmask([...u3, 'zed']), /never shared keys/);
    server.receiveUnmasking(a.unmask(u3));
    assert.throws(() => a.unmask(u3), /already answered/);
    server.receiveUnmasking(b.unmask(u3));
    const r = server.finish();
    assert.deepEqual(r.dropped, ['c']);
    assert.deepEqual(
      [...r.sum].map((v) => Math.round(v * 1000) / 1000),
      [0.75, 0, 0, -0.25],
    );
  });

  it('parameters that could wrap the fixed-point sum are refused', () => {
    assert.throws(
      () =>
        new SecAggServer({ round: 1, threshold: 2, length: 4, scale: 2 ** 24, maxAbs: 10, maxClients: 100 }),
      /must be < 2\^31/,
    );
  });

  it('an example-weighted FedAvg round through secure aggregation equals plain FedAvg over the survivors', () => {
    const r = mulberry32(5);
    const global: ModelWeights = [
      { name: 'k', shape: [40, 8], values: Float32Array.from({ length: 320 }, () => r() - 0.5) },
      { name: 'b', shape: [8], values: new Float32Array(8) },
    ];
    const deltas = Array.from(
      { length: 5 },
      () =>
        clipL2(
          global.map((t) => ({ ...t, values: t.values.map(() => (r() - 0.5) * 0.2) })),
          1,
        ).delta,
    );
    const examples = [30, 70, 12, 55, 41];
    const params = { round: 9, threshold: 3, length: secureInputLength(global), maxAbs: 1, maxClients: 16 };
    const server = new SecAggServer(params);
    const clients = deltas.map((_, i) => new SecAggClient(`c${i}`, params));
    for (const c of clients) server.receiveAdvertisement(c.advertise());
    for (const c of clients) server.receiveShares(c.clientId, c.shareKeys(server.roster()));
    const u2 = server.submitted();
    clients.forEach((c, i) => {
      if (i === 3) return; // drops after sharing keys
      server.receiveMaskedInput(
        c.clientId,
        c.maskedInput(
          secureInput(deltas[i] as ModelWeights, examples[i] as number, 100),
          server.inboxFor(c.clientId),
          u2,
        ),
      );
    });
    const u3 = server.survivors();
    for (const c of clients) if (u3.includes(c.clientId)) server.receiveUnmasking(c.unmask(u3));
    const secure = globalFromSecureSum(global, server.finish().sum);
    const plain = createStrategy('fedavg').begin(global, { round: 9 });
    deltas.forEach((d, i) => {
      if (i !== 3) plain.add({ clientId: `c${i}`, delta: d, examples: examples[i] as number });
    });
    const expected = plain.finish().weights;
    expected.forEach((t, i) => {
      t.values.forEach((v, k) => {
        assert.ok(Math.abs(v - (secure[i]?.values[k] as number)) < 1e-4, `${t.name}[${k}]`);
      });
    });
  });
});
