import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { currentPlatform, prepareUpdate, verifyBundleFile } from '../../agent/update/bundle.js';
import { HEALTHY_MESSAGE, Launcher } from '../../agent/update/launcher.js';
import { Slots } from '../../agent/update/slots.js';
import {
  type AgentBundleManifest,
  generateSigningKeyPair,
  isOutpostError,
  signAgentBundle,
} from '../../shared/index.js';
import { tempDir, testLogger, waitFor } from '../helpers/agent.js';

const keys = generateSigningKeyPair();
const trusted = [keys.publicKeyPem];

/** A bundle (gzipped tar) holding an agent that confirms its health, and its signed manifest. */
function makeBundle(root: string, version: string) {
  const src = join(root, `src-${version}`);
  mkdirSync(src, { recursive: true });
  writeFileSync(
    join(src, 'agent.mjs'),
    `process.send({ type: '${HEALTHY_MESSAGE}' });\nsetInterval(() => {}, 1000);\nprocess.on('SIGTERM', () => process.exit(0));\n`,
  );
  const file = join(root, `outpost-agent-${version}.tgz`);
  execFileSync('tar', ['-czf', file, '-C', src, '.']);
  const bytes = readFileSync(file);
  const manifest: AgentBundleManifest = {
    kind: 'agent',
    version,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    size: bytes.byteLength,
    platform: currentPlatform(),
    createdAt: Date.now(),
  };
  return { file, manifest, signed: signAgentBundle(manifest, keys) };
}

const rejectsWith = async (promise: Promise<unknown>, code: string, message: RegExp) =>
  assert.rejects(
    promise,
    (err: unknown) => isOutpostError(err) && err.code === code && message.test(err.message),
  );

describe('agent update: bundles', () => {
  const cleanups: Array<() => unknown> = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('verifies the signature, size, sha256 and platform before anything is installed', async () => {
    const dir = tempDir('outpost-bundle-');
    cleanups.push(() => dir.remove());
    const { file, manifest, signed } = makeBundle(dir.path, '0.2.0');
    assert.deepEqual(await verifyBundleFile(file, signed, trusted), manifest);

    const tampered = join(dir.path, 'tampered.tgz');
    copyFileSync(file, tampered);
    appendFileSync(tampered, 'x');
    await rejectsWith(
      verifyBundleFile(tampered, signed, trusted),
      'AGENT_ARTIFACT_MISMATCH',
      /the manifest says/,
    );
    const sparc = signAgentBundle({ ...manifest, platform: { ...manifest.platform, arch: 'sparc' } }, keys);
    await rejectsWith(
      verifyBundleFile(file, sparc, trusted),
      'AGENT_BUNDLE_PLATFORM',
      new RegExp(`arch sparc \\(this device: ${process.arch}\\)`),
    );
    await rejectsWith(
      verifyBundleFile(file, signed, [generateSigningKeyPair().publicKeyPem]),
      'PROTO_UNTRUSTED_KEY',
      /not trusted/,
    );
    const forged = { ...signed, manifest: { ...signed.manifest, version: '0.2.1' } };
    await rejectsWith(verifyBundleFile(file, forged, trusted), 'PROTO_BAD_SIGNATURE', /does not verify/);
  });

  it('installs into the inactive slot on trial, and the launcher confirms it; a refused bundle changes nothing', async () => {
    const dir = tempDir('outpost-bundle-install-');
    cleanups.push(() => dir.remove());
    const slots = new Slots(join(dir.path, 'slots'));
    slots.init('0.1.0');
    const { file, manifest, signed } = makeBundle(dir.path, '0.2.0');

    const foreign = signAgentBundle({ ...manifest, platform: { ...manifest.platform, nodeAbi: '1' } }, keys);
    const refused = prepareUpdate({
      slots,
      bundleFile: file,
      signed: foreign,
      trustedKeys: trusted,
      confirmMs: 60_000,
      now: Date.now(),
    });
    await rejectsWith(refused, 'AGENT_BUNDLE_PLATFORM', /nodeAbi 1/);
    assert.deepEqual(slots.load(), { current: 'a', versions: { a: '0.1.0' } });
    assert.equal(existsSync(slots.dir('b')), false);

    const { slot, state } = await prepareUpdate({
      slots,
      bundleFile: file,
      signed,
      trustedKeys: trusted,
      confirmMs: 60_000,
      now: Date.now(),
    });
    assert.equal(slot, 'b');
    assert.deepEqual([state.current, state.trial?.version, state.trial?.previous], ['b', '0.2.0', 'a']);
    assert.equal(
      JSON.parse(readFileSync(join(slots.dir('b'), 'bundle.json'), 'utf8')).sha256,
      manifest.sha256,
    );

    const launcher = new Launcher({
      slots,
      entry: (slotDir) => ({ file: join(slotDir, 'agent.mjs'), args: [] }),
      log: testLogger(),
    });
    cleanups.push(() => launcher.stop());
    launcher.start();
    await waitFor(() => slots.load().trial === undefined, '0.2.0 confirmed', 30_000);
    assert.deepEqual(slots.load().versions, { a: '0.1.0', b: '0.2.0' });
  });
});
