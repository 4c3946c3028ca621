import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, test } from 'node:test';
import type { HubStore } from '../../hub/index.js';
import type { AgentBundleRecord } from '../../hub/store/agent-bundle-types.js';
import { type BundlePlatform, generateSigningKeyPair, signAgentBundle } from '../../shared/index.js';
import { contract } from './suite.js';

// Agent bundles as a contract: one bundle per (release, platform), a second refused by name,
// the signed manifest read back intact, listing by release then platform, deletion of a
// release or one platform of it, and what a second handle (another replica) sees.

const keys = generateSigningKeyPair();
const X64: BundlePlatform = { os: 'linux', arch: 'x64', libc: 'glibc', nodeAbi: '115' };
const ARM64: BundlePlatform = { os: 'linux', arch: 'arm64', libc: 'glibc', nodeAbi: '115' };

function bundle(version: string, platform: BundlePlatform, createdAt: number): AgentBundleRecord {
  const sha256 = createHash('sha256').update(`${version} ${platform.arch}`).digest('hex');
  const signed = signAgentBundle({ kind: 'agent', version, sha256, size: 1234, platform, createdAt }, keys);
  return { version, platform, sha256, size: 1234, signed, createdAt };
}

contract('HubStore contract: agent bundles', (ctx) => {
  let store: HubStore;
  before(() => {
    store = ctx().store;
  });

  test('one bundle per release and platform; a second is refused by name; the manifest reads back signed', async () => {
    const x64 = bundle('1.1.0', X64, 2000);
    await store.putAgentBundle(x64);
    await store.putAgentBundle(bundle('1.1.0', ARM64, 2001));
    await assert.rejects(
      store.putAgentBundle(bundle('1.1.0', X64, 2002)),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'HUB_AGENT_BUNDLE_EXISTS');
        assert.match(err.message, /agent 1\.1\.0 already has a bundle for linux/);
        return true;
      },
    );
    const byArch = new Map((await store.listAgentBundles('1.1.0')).map((b) => [b.platform.arch, b]));
    assert.deepEqual(byArch.get('x64'), x64);
    assert.equal(byArch.get('arm64')?.signed.manifest.platform.arch, 'arm64');
  });

  test('listing: one release by platform, or every bundle; another handle sees the same', async () => {
    await store.putAgentBundle(bundle('1.0.0', X64, 1000));
    const all = await store.listAgentBundles();
    assert.deepEqual(
      all.map((b) => `${b.version}/${b.platform.arch}`),
      ['1.0.0/x64', '1.1.0/x64', '1.1.0/arm64'],
    );
    assert.equal((await store.listAgentBundles('9.9.9')).length, 0);
    const second = await ctx().space.open();
    try {
      assert.deepEqual(await second.listAgentBundles(), all);
    } finally {
      await second.close();
    }
  });

  test('delete one platform of a release, then the release; nothing else goes', async () => {
    assert.equal(await store.deleteAgentBundles('1.1.0', 'linux/arm64/glibc/115'), 1);
    assert.deepEqual(
      (await store.listAgentBundles('1.1.0')).map((b) => b.platform.arch),
      ['x64'],
    );
    assert.equal(await store.deleteAgentBundles('1.1.0'), 1);
    assert.equal(await store.deleteAgentBundles('1.1.0'), 0);
    assert.deepEqual(
      (await store.listAgentBundles()).map((b) => b.version),
      ['1.0.0'],
    );
  });
});
