import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAgent } from '../../agent/index.js';
import { agentTestConfig, tempDir, testLogger } from '../helpers/agent.js';
import { api, enroll } from '../helpers/hub.js';
import { classifierModel, push, rolloutEnd, rolloutHub } from './fleet.js';

// A rollout whose every device refuses the version (here: an agent with no trusted hub keys,
// which refuses every signed manifest) must not end `completed`.

test('a rollout that excludes every targeted device ends aborted, naming why', async () => {
  const env = await rolloutHub();
  const { hub } = env;
  const dir = tempDir();
  const creds = await enroll(hub, { labels: { tag: 'keyless' } });
  const agent = await createAgent(
    agentTestConfig({
      deviceId: creds.id,
      deviceSecret: creds.secret,
      dataDir: dir.path,
      hub: { mqttUrl: hub.mqtt.url },
      inference: { profile: 'x86-64-cpu', threads: 1 },
      delivery: { hubHttpUrl: hub.http.url },
    }),
    { logger: testLogger() },
  );
  try {
    await push(hub, 'clf', '2.0.0', classifierModel(2).bytes);
    const created = await api(hub, 'POST', '/v1/rollouts', {
      model: 'clf',
      version: '2.0.0',
      selector: { tag: 'keyless' },
      stages: [100],
      bakeMs: '100ms',
      deviceDeadlineMs: '3s',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const done = await rolloutEnd(hub, created.body.id);
    assert.equal(done.rollout.state, 'aborted', JSON.stringify(done.timeline));
    assert.match(done.rollout.reason, /every targeted device \(1\) was excluded/);
    assert.ok(done.timeline.some((e: { kind: string }) => e.kind === 'excluded'));
  } finally {
    await agent.close();
    await env.remove();
    dir.remove();
  }
});
