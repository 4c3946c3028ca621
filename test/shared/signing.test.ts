import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  canonicalJson,
  generateSigningKeyPair,
  keyIdOf,
  type Manifest,
  OutpostError,
  signManifest,
  verifySignedManifest,
} from '../../shared/index.js';

const manifest: Manifest = {
  schema: 'outpost.manifest/v1',
  name: 'keyword-spotter',
  version: '1.2.0',
  format: 'onnx',
  precision: 'int8',
  sha256: 'a'.repeat(64),
  size: 123_456,
  inputs: [{ name: 'audio', dtype: 'float32', shape: ['batch', 16000] }],
  outputs: [{ name: 'logits', dtype: 'float32', shape: ['batch', 12] }],
  lineage: { parent: '1.1.0', round: 4 },
  createdAt: 1_700_000_000_000,
};

const codeOf = (code: string) => (err: unknown) => err instanceof OutpostError && err.code === code;

test('canonical JSON sorts keys, drops undefined members and has no whitespace', () => {
  assert.equal(
    canonicalJson({ b: 1, a: [true, null, 'x'], c: undefined, d: { z: 0.5, y: -0 } }),
    '{"a":[true,null,"x"],"b":1,"d":{"y":0,"z":0.5}}',
  );
  assert.equal(canonicalJson({ é: 1, e: 2, E: 3 }), '{"E":3,"e":2,"é":1}');
  assert.equal(canonicalJson(1e21), '1e+21');
  assert.equal(canonicalJson({ b: { d: 1, c: 2 }, a: 0 }), canonicalJson({ a: 0, b: { c: 2, d: 1 } }));
});

test('canonical JSON refuses what JSON cannot carry', () => {
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 10n, () => 1, [undefined], new Date(0)]) {
    assert.throws(() => canonicalJson({ x: bad }), codeOf('PROTO_NOT_CANONICAL'));
  }
});

test('a signed manifest verifies, whatever the key order it travels in', () => {
  const keys = generateSigningKeyPair();
  const signed = signManifest(manifest, keys);
  assert.equal(signed.signature.keyId, keyIdOf(keys.publicKeyPem));
  const reordered = JSON.parse(
    JSON.stringify({ signature: signed.signature, manifest: { ...signed.manifest } }),
  );
  assert.deepEqual(verifySignedManifest(reordered, [keys.publicKeyPem]), manifest);
});

test('tampered, unsigned, untrusted and malformed manifests are refused', () => {
  const keys = generateSigningKeyPair();
  const other = generateSigningKeyPair();
  const signed = signManifest(manifest, keys);
  const tampered = { ...signed, manifest: { ...signed.manifest, sha256: 'b'.repeat(64) } };
  assert.throws(() => verifySignedManifest(tampered, [keys.publicKeyPem]), codeOf('PROTO_BAD_SIGNATURE'));
  const older = { ...signed, manifest: { ...signed.manifest, version: '1.0.0' } };
  assert.throws(() => verifySignedManifest(older, [keys.publicKeyPem]), codeOf('PROTO_BAD_SIGNATURE'));
  assert.throws(() => verifySignedManifest(signed, [other.publicKeyPem]), codeOf('PROTO_UNTRUSTED_KEY'));
  assert.throws(
    () => verifySignedManifest({ manifest }, [keys.publicKeyPem]),
    codeOf('PROTO_INVALID_PAYLOAD'),
  );
  // A signature made by another key but labelled with the trusted key's id.
  const forged = {
    ...signManifest(manifest, other),
    signature: { ...signManifest(manifest, other).signature, keyId: signed.signature.keyId },
  };
  assert.throws(() => verifySignedManifest(forged, [keys.publicKeyPem]), codeOf('PROTO_BAD_SIGNATURE'));
});

test('agents trusting old and new keys accept both during a rotation', () => {
  const oldKeys = generateSigningKeyPair();
  const newKeys = generateSigningKeyPair();
  const trusted = [oldKeys.publicKeyPem, newKeys.publicKeyPem];
  assert.equal(verifySignedManifest(signManifest(manifest, oldKeys), trusted).version, '1.2.0');
  assert.equal(verifySignedManifest(signManifest(manifest, newKeys), trusted).version, '1.2.0');
});

test('an invalid manifest cannot be signed', () => {
  const keys = generateSigningKeyPair();
  assert.throws(() => signManifest({ ...manifest, version: 'v1' }, keys), /semantic version/);
});
