import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  chunk,
  clipL2,
  decodeUpdate,
  encodeUpdate,
  l2Norm,
  type ModelWeights,
  reassemble,
} from '../../federated/index.js';

// Clipping, the update codec (none, int8, top-k) and chunked transport.

function seeded(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
function delta(seed = 1): ModelWeights {
  const r = seeded(seed);
  return [
    { name: 'dense/kernel', shape: [30, 20], values: Float32Array.from({ length: 600 }, r) },
    { name: 'dense/bias', shape: [20], values: Float32Array.from({ length: 20 }, () => r() * 0.01) },
  ];
}

describe('clipL2', () => {
  it('scales down to the bound and leaves a small delta alone', () => {
    const d = delta();
    const n = l2Norm(d);
    const c = clipL2(d, n / 2);
    assert.equal(c.clipped, true);
    assert.ok(Math.abs(c.norm - n) < 1e-9);
    assert.ok(Math.abs(l2Norm(c.delta) - n / 2) < 1e-4);
    // Direction kept.
    assert.ok(Math.abs((c.delta[0]?.values[3] as number) * 2 - (d[0]?.values[3] as number)) < 1e-6);
    const same = clipL2(d, n * 2);
    assert.equal(same.clipped, false);
    assert.deepEqual(same.delta, d);
    assert.throws(() => clipL2(d, 0), /positive/);
  });
});

describe('update codec', () => {
  it('none: exact round trip', () => {
    const d = delta();
    const bytes = encodeUpdate(d);
    assert.equal(bytes.length, 12 + (2 + 12 + 1 + 8 + 2400) + (2 + 10 + 1 + 4 + 80));
    assert.deepEqual(decodeUpdate(bytes, d), d);
  });

  it('int8: about 4× smaller, every entry within half a step of the per-tensor scale', () => {
    const d = delta();
    const bytes = encodeUpdate(d, { compression: 'int8' });
    assert.ok(bytes.length < encodeUpdate(d).length / 3.5, `${bytes.length} bytes`);
    const back = decodeUpdate(bytes, d);
    d.forEach((t, i) => {
      const scale = Math.max(...t.values.map(Math.abs)) / 127;
      t.values.forEach((v, k) => {
        const err = Math.abs(v - (back[i]?.values[k] as number));
        assert.ok(err <= scale / 2 + 1e-7, `${t.name}[${k}] error ${err} > ${scale / 2}`);
      });
    });
    // An all-zero tensor stays zero (scale 1, not 0/0).
    const zeros: ModelWeights = [{ name: 'z', shape: [3], values: new Float32Array(3) }];
    assert.deepEqual(decodeUpdate(encodeUpdate(zeros, { compression: 'int8' }), zeros), zeros);
  });

  it('topk: keeps exactly the largest-magnitude entries of each tensor, the rest are zero', () => {
    const d = delta(7);
    const back = decodeUpdate(encodeUpdate(d, { compression: 'topk', topkFraction: 0.1 }), d);
    d.forEach((t, i) => {
      const k = Math.ceil(0.1 * t.values.length);
      const threshold = [...t.values].map(Math.abs).sort((a, b) => b - a)[k - 1] as number;
      const got = back[i]?.values as Float32Array;
      let kept = 0;
      t.values.forEach((v, j) => {
        if (Math.abs(v) >= threshold) {
          assert.equal(got[j], v, `${t.name}[${j}] should be kept`);
          kept++;
        } else assert.equal(got[j], 0, `${t.name}[${j}] should be dropped`);
      });
      assert.equal(kept, k);
    });
    assert.throws(() => encodeUpdate(d, { compression: 'topk', topkFraction: 0 }), /topkFraction/);
    // Ties at the threshold are kept in index order, exactly k entries.
    const flat: ModelWeights = [{ name: 't', shape: [6], values: Float32Array.of(1, -3, 3, 3, 0, -3) }];
    const kept = decodeUpdate(encodeUpdate(flat, { compression: 'topk', topkFraction: 0.5 }), flat);
    assert.deepEqual([...(kept[0]?.values ?? [])], [0, -3, 3, 3, 0, 0]);
  });

  it('decode refuses what is not the expected update, naming the problem', () => {
    const d = delta();
    const bytes = encodeUpdate(d, { compression: 'int8' });
    assert.throws(() => decodeUpdate(bytes.subarray(0, 5), d), /shorter than the 12-byte header/);
    assert.throws(
      () => decodeUpdate(Uint8Array.from([...bytes.subarray(0, 3), 0x58, ...bytes.subarray(4)]), d),
      /magic/,
    );
    const v2 = bytes.slice();
    v2[4] = 2;
    assert.throws(() => decodeUpdate(v2, d), /format version 2/);
    const c9 = bytes.slice();
    c9[5] = 9;
    assert.throws(() => decodeUpdate(c9, d), /unknown compression code 9/);
    assert.throws(
      () => decodeUpdate(bytes.subarray(0, bytes.length - 3), d),
      /truncated .* reading dense\/bias int8 values/,
    );
    assert.throws(() => decodeUpdate(Uint8Array.from([...bytes, 0]), d), /1 trailing bytes/);
    assert.throws(
      () =>
        decodeUpdate(bytes, [
          { name: 'dense/kernel', shape: [20, 30] },
          { name: 'dense/bias', shape: [20] },
        ]),
      /dense\/kernel has shape \[30, 20\], expected \[20, 30\]/,
    );
    assert.throws(
      () => decodeUpdate(bytes, [{ name: 'other', shape: [30, 20] }, d[1] as never]),
      /tensor 0 is "dense\/kernel", expected "other"/,
    );
    assert.throws(() => decodeUpdate(bytes, d.slice(0, 1)), /2 tensors; the model has 1/);
    try {
      decodeUpdate(bytes.subarray(0, 40), d);
      assert.fail('decoded a truncated update');
    } catch (err) {
      assert.equal((err as { code?: string }).code, 'FL_BAD_UPDATE');
    }
  });
});

describe('chunks', () => {
  const bytes = encodeUpdate(delta());

  it('reassembles in any order, ignores exact duplicates, verifies the digest', () => {
    const parts = chunk(bytes, 500);
    assert.equal(parts.length, Math.ceil(bytes.length / 500));
    assert.ok(parts.every((p) => p.bytes.length <= 500 && p.total === parts.length));
    const shuffled = [...parts].reverse();
    assert.deepEqual(reassemble([...shuffled, parts[1] as never]), bytes);
    assert.equal(chunk(new Uint8Array(), 10).length, 1);
  });

  it('refuses missing, conflicting, foreign and tampered chunks', () => {
    const parts = chunk(bytes, 500);
    assert.throws(() => reassemble(parts.slice(1)), /missing chunk\(s\) 0 of/);
    const tampered = parts.map((p) => ({ ...p, bytes: p.bytes.slice() }));
    const victim = (tampered[2] as { bytes: Uint8Array }).bytes;
    victim[7] = (victim[7] as number) ^ 1;
    assert.throws(() => reassemble(tampered), /SHA-256 .* does not match/);
    assert.throws(() => reassemble([...parts, tampered[2] as never]), /two different chunks at index 2/);
    const foreign = chunk(encodeUpdate(delta(2)), 500);
    assert.throws(() => reassemble([...parts.slice(0, 2), ...foreign.slice(2)]), /belongs to another update/);
    assert.throws(() => reassemble([]), /no chunks/);
    assert.throws(() => chunk(bytes, 0), /maxChunk/);
  });
});
