import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { createAgent } from '../../agent/index.js';
import { generateSigningKeyPair } from '../../shared/index.js';
import { agentTestConfig, tempDir } from '../helpers/agent.js';

const SECRET = 'start-warnings-secret-0123456789';

async function startWith(extra: Record<string, unknown>) {
  const dir = tempDir();
  const lines: string[] = [];
  const logger = pino(
    { level: 'warn' },
    new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  // Nothing listens on port 9: the agent starts and keeps retrying the link.
  const config = agentTestConfig({
    deviceId: 'warn-1',
    deviceSecret: SECRET,
    dataDir: dir.path,
    hub: { mqttUrl: 'mqtt://127.0.0.1:9' },
    ...extra,
  });
  const agent = await createAgent(config, { logger });
  return { agent, lines, dir };
}

test('an agent without trusted hub keys warns at start and says so in its status', async () => {
  const { agent, lines, dir } = await startWith({});
  try {
    const warnings = agent.status().warnings;
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] as string, /cannot verify model artifacts: no trusted hub keys/);
    assert.ok(
      lines.some((l) => /cannot verify model artifacts/.test(l) && /"level":40/.test(l)),
      lines.join(''),
    );
  } finally {
    await agent.close();
    dir.remove();
  }
});

test('an agent with a trusted key has no warning', async () => {
  const keys = generateSigningKeyPair();
  const { agent, dir } = await startWith({ delivery: { trustedKeys: [keys.publicKeyPem] } });
  try {
    assert.deepEqual(agent.status().warnings, []);
  } finally {
    await agent.close();
    dir.remove();
  }
});
