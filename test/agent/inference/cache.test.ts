import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { type Agent, createAgent } from '../../../agent/index.js';
import { cacheKey, ResultCache } from '../../../agent/inference/result-cache.js';
import { agentMigrations } from '../../../agent/store/migrations.js';
import { runMigrations } from '../../../shared/index.js';
import { agentTestConfig, FaultProxy, TestBroker, tempDir, waitFor } from '../../helpers/agent.js';
import { classifierModel, f32, writeModel } from '../../helpers/models.js';

// The result cache in the agent's SQLite file, and the upload policy.

function openCache(path: string, limits: { maxBytes: number; ttlS: number }, now: () => number) {
  const db = new Database(path);
  runMigrations(db, agentMigrations('e'.repeat(22), 0));
  return { db, cache: new ResultCache(db, limits, now) };
}

const parts = (i: number, version = '1.0.0') => ({
  model: 'm',
  version,
  precision: 'fp32',
  preprocessing: '',
  inputDigest: String(i),
});

describe('result cache', () => {
  it('expires entries after their TTL (a clock the test moves)', () => {
    const dir = tempDir();
    let now = 1_000_000;
    const { db, cache } = openCache(join(dir.path, 'c.db'), { maxBytes: 10_000, ttlS: 60 }, () => now);
    try {
      const key = cacheKey(parts(1));
      cache.put(key, parts(1), Buffer.alloc(100, 1));
      assert.equal(cache.get(key)?.byteLength, 100);
      now += 59_999;
      assert.ok(cache.get(key));
      now += 1;
      assert.equal(cache.get(key), undefined);
      assert.deepEqual(cache.report(), {
        hits: 2,
        misses: 1,
        evictions: 0,
        entries: 0,
        bytes: 0,
        maxBytes: 10_000,
      });
    } finally {
      db.close();
      dir.remove();
    }
  });

  it('keeps to its byte quota by evicting the least recently used, and survives a reopen', () => {
    const dir = tempDir();
    const file = join(dir.path, 'c.db');
    const first = openCache(file, { maxBytes: 1000, ttlS: 3600 }, () => 5);
    const keys = [0, 1, 2, 3].map((i) => cacheKey(parts(i)));
    for (const [i, k] of keys.entries()) first.cache.put(k, parts(i), Buffer.alloc(300, i));
    // 4×300 > 1000: the oldest (0) went. Touch 1, then add 4: now 2 is the least recently used.
    assert.equal(first.cache.get(keys[0] as string), undefined);
    assert.ok(first.cache.get(keys[1] as string));
    first.cache.put(cacheKey(parts(4)), parts(4), Buffer.alloc(300, 4));
    assert.equal(first.cache.get(keys[2] as string), undefined);
    assert.ok(first.cache.get(keys[1] as string));
    assert.equal(first.cache.report().evictions, 2);
    assert.equal(first.cache.report().bytes, 900);
    assert.equal(
      first.cache.put(cacheKey(parts(9)), parts(9), Buffer.alloc(1001)),
      false,
      'larger than the quota',
    );
    first.db.close();
    const again = openCache(file, { maxBytes: 1000, ttlS: 3600 }, () => 5);
    assert.deepEqual(
      { entries: again.cache.report().entries, bytes: again.cache.report().bytes },
      { entries: 3, bytes: 900 },
    );
    assert.ok(again.cache.get(keys[3] as string));
    assert.equal(again.cache.invalidate('m', { version: '2.0.0', precision: 'fp32' }), 3);
    assert.equal(again.cache.report().bytes, 0);
    again.db.close();
    dir.remove();
  });

  it('keys differ by model, version, variant, preprocessing and input digest', () => {
    const base = parts(1);
    const variants = [
      base,
      { ...base, model: 'n' },
      { ...base, version: '1.0.1' },
      { ...base, precision: 'int8' },
      { ...base, preprocessing: 'v2' },
      { ...base, inputDigest: '2' },
    ];
    assert.equal(new Set(variants.map(cacheKey)).size, variants.length);
  });
});

describe('result cache and upload policy in the agent', () => {
  const x = f32([1, 4], [0.1, 0.2, 0.3, 0.4]);

  async function start(dataDir: string, mqttUrl: string): Promise<Agent> {
    return createAgent(
      agentTestConfig({
        deviceId: 'dev-cache',
        deviceSecret: 'a-device-secret-of-some-length',
        dataDir,
        hub: { mqttUrl },
        inference: { profile: 'x86-64-cpu', threads: 1 },
      }),
    );
  }

  it('hits on the same input, misses on another preprocessing version, drops v1 entries when v2 activates, and persists', async () => {
    const dir = tempDir();
    const proxy = new FaultProxy();
    const mqttUrl = await proxy.listen();
    const v1 = writeModel(dir.path, 'v1.onnx', classifierModel(1).bytes);
    const v2 = writeModel(dir.path, 'v2.onnx', classifierModel(2).bytes);
    let agent = await start(join(dir.path, 'agent'), mqttUrl);
    try {
      await agent.models.install({ file: v1, name: 'clf', version: '1.0.0' });
      const miss = await agent.models.infer('clf', { x });
      const hit = await agent.models.infer('clf', { x });
      assert.equal(miss.cached, false);
      assert.equal(hit.cached, true);
      assert.deepEqual(hit.outputs.logits?.data, miss.outputs.logits?.data);
      assert.equal((await agent.models.infer('clf', { x }, { preprocessing: 'v2' })).cached, false);
      assert.equal((await agent.models.infer('clf', { x }, { cache: false })).cached, false);
      let cache = agent.status().inference.cache;
      assert.deepEqual(
        { hits: cache.hits, misses: cache.misses, entries: cache.entries },
        { hits: 1, misses: 2, entries: 2 },
      );

      await agent.models.install({ file: v2, name: 'clf', version: '2.0.0' });
      cache = agent.status().inference.cache;
      assert.equal(cache.entries, 0, 'entries of 1.0.0 are dropped when 2.0.0 activates');
      const fresh = await agent.models.infer('clf', { x });
      assert.equal(fresh.cached, false);
      assert.equal(fresh.version, '2.0.0');
      assert.notDeepEqual(fresh.outputs.logits?.data, miss.outputs.logits?.data);

      await agent.close();
      agent = await start(join(dir.path, 'agent'), mqttUrl);
      const after = await agent.models.infer('clf', { x });
      assert.equal(after.version, '2.0.0', 'the active version survives a restart');
      assert.equal(after.cached, true, 'the cache lives in the SQLite file');
    } finally {
      await agent.close();
      await proxy.close();
      dir.remove();
    }
  });

  it('queues results in the outbox results lane per policy (none, sampled, all) and reports the engine to the hub', async () => {
    const dir = tempDir();
    const broker = await TestBroker.start();
    const agent = await start(join(dir.path, 'agent'), broker.url);
    try {
      await agent.models.install({
        file: writeModel(dir.path, 'm.onnx', classifierModel(3).bytes),
        name: 'clf',
        version: '1.0.0',
      });
      const run = async (n: number) => {
        for (let i = 0; i < n; i++) await agent.models.infer('clf', { x: f32([1, 4], [i, 0, 0, 0]) });
      };
      await run(3);
      assert.equal(agent.status().outbox.results.enqueued, 0, 'policy none');
      agent.models.setPolicy('clf', { upload: 'sampled', sampleRate: 0.25 });
      await run(8);
      assert.equal(agent.status().outbox.results.enqueued, 2, 'a quarter of 8');
      agent.models.setPolicy('clf', { upload: 'all' });
      await run(3);
      assert.equal(agent.status().outbox.results.enqueued, 5);
      assert.deepEqual(agent.models.get('clf').uploads, { queued: 5, skipped: 9, refused: 0 });
      const events = await waitFor(() => {
        const stored = broker.events(agent.epoch, 'results');
        return stored.length === 5 && stored;
      }, 'results at the broker');
      // The last inputs were answered before (under policy none): a cache hit, uploaded as such.
      const body = events[4]?.body as {
        model: string;
        engine: string;
        cached: boolean;
        outputs: { probs: { dims: number[] } };
      };
      assert.equal(events[4]?.type, 'inference.result');
      assert.deepEqual(
        [body.model, body.engine, body.cached, body.outputs.probs.dims],
        ['clf', 'onnx:cpu', true, [1, 3]],
      );
      const state = await waitFor(() => {
        const states = broker.messages<{ inference?: { models: Array<{ name: string; engine: string }> } }>(
          'outpost/v1/d/dev-cache/state',
        );
        return states.find((s) => s.inference?.models.some((m) => m.name === 'clf'));
      }, 'a reported state with the model');
      assert.deepEqual(
        state.inference?.models.map((m) => [m.name, m.engine]),
        [['clf', 'onnx:cpu']],
      );
    } finally {
      await agent.close();
      await broker.close();
      dir.remove();
    }
  });
});
