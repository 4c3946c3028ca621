/**
 * An agent in a container (the images set OUTPOST_UPDATED_BY=image) is updated by its image:
 * it reports so, and an agent rollout excludes it at once, saying why.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { OUTPOST_VERSION } from '../../shared/index.js';
import { MAIN, pushBundle, testBundle, waitForDevice, writeAgentConfig } from '../helpers/agent-update.js';
import { api, Cleanups, enroll, startHub, tempDir, waitFor } from '../helpers/hub.js';

const cleanups = new Cleanups();
after(() => cleanups.run());

test('a container agent reports it is updated by its image; an agent rollout excludes it', async () => {
  const dir = tempDir('outpost-ota-image-');
  cleanups.add(() => dir.remove());
  const hub = await startHub(join(dir.path, 'hub'), { rollouts: { tickMs: 100 } });
  cleanups.add(() => hub.close());
  const creds = await enroll(hub, { id: 'boxed-1' });
  const config = writeAgentConfig(dir.path, hub, creds);
  const log = openSync(join(dir.path, 'agent.log'), 'a');
  const child = spawn(process.execPath, [MAIN, 'agent', '--config', config], {
    env: { ...process.env, OUTPOST_UPDATED_BY: 'image' },
    stdio: ['ignore', log, log],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  cleanups.add(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  const seen = await waitForDevice(hub, creds.id, (d) => d.online && d.reported?.update, 'reported', 90_000);
  assert.equal(seen.reported.update.managedBy, 'image');
  assert.equal(seen.reported.agentVersion, OUTPOST_VERSION);

  await pushBundle(hub, (await testBundle(dir.path, '0.4.0')).file);
  const created = await api(hub, 'POST', '/v1/rollouts', {
    target: 'agent',
    version: '0.4.0',
    stages: [100],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const status = await waitFor(
    async () => {
      const s = (await api(hub, 'GET', `/v1/rollouts/${created.body.id}`)).body;
      return s.rollout.state === 'running' ? undefined : s;
    },
    'the rollout to end',
    60_000,
  );
  assert.equal(status.rollout.state, 'aborted');
  assert.match(status.rollout.reason, /boxed-1: runs in a container: updated by a new image/);
});
