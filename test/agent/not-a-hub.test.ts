import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { Aedes } from 'aedes';
import { createAgent } from '../../agent/index.js';
import { agentTestConfig, tempDir, waitFor } from '../helpers/agent.js';

// A plain MQTT broker accepts the agent but never answers its ping: the agent must say it is
// not an Outpost hub, in its status and its log, instead of believing it is connected to one.
test('an agent on a broker that never answers its ping reports "not an Outpost hub"', async () => {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = tempDir();
  const agent = await createAgent(
    agentTestConfig({
      deviceId: 'lost-1',
      deviceSecret: 'not-a-hub-secret-0123456789',
      dataDir: dir.path,
      hub: { mqttUrl: url },
      link: { pingIntervalMs: 200, pingTimeoutMs: 300, reconnectMinMs: 50, reconnectMaxMs: 200 },
    }),
  );
  try {
    const warning = await waitFor(
      () => agent.status().warnings.find((w) => w.startsWith('not an Outpost hub')),
      'the agent to say the broker is not an Outpost hub',
    );
    assert.match(warning, /no answer to the Outpost ping/);
  } finally {
    await agent.close();
    await new Promise((resolve) => server.close(resolve));
    broker.close();
    dir.remove();
  }
});
