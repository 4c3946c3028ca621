import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { createAgent } from '../../agent/index.js';
import { LOG_EVENT, LogShipper } from '../../agent/telemetry/log-shipper.js';
import type { AgentEvent } from '../../agent/types.js';
import { runCli } from '../cli/run-cli.js';
import { agentTestConfig } from '../helpers/agent.js';
import { Cleanups, tempDir, waitFor } from '../helpers/fixtures.js';
import { enroll, startHub } from '../helpers/hub.js';
import { classifierModel } from '../helpers/models.js';
import { root } from '../packaging/process-helpers.js';

// An agent's warn-and-worse log lines reach the hub in the telemetry lane, bounded per minute
// with the drops counted, and `outpost devices logs ID [--follow]` prints them there.

const line = (level: number, msg: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ level, time: 1_800_000_000_000, msg, ...extra });

describe('log shipping', () => {
  it('ships warn and worse, at most maxPerMinute a minute, and reports what it dropped', () => {
    let now = 0;
    const shipped: AgentEvent[] = [];
    const shipper = new LogShipper(2, () => now);
    shipper.write(line(40, 'before the outbox', { component: 'agent' }));
    shipper.write(line(30, 'info is not shipped'));
    assert.equal(shipped.length, 0, 'nothing before attach');
    shipper.attach((e) => shipped.push(e));
    assert.equal(shipped.length, 1, 'the line logged before the outbox existed');
    shipper.write(line(50, 'boom', { err: { message: 'disk on fire' } }));
    shipper.write(line(40, 'over the rate'));
    shipper.write(line(60, 'also over'));
    assert.equal(shipped.length, 2);
    assert.equal(shipper.dropped, 2);
    now += 60_000;
    shipper.write(line(40, 'next minute'));
    assert.deepEqual(
      shipped.map((e) => [
        e.type,
        e.lane,
        (e.body as { msg: string }).msg,
        (e.body as { dropped: number }).dropped,
      ]),
      [
        [LOG_EVENT, 'telemetry', 'before the outbox', 0],
        [LOG_EVENT, 'telemetry', 'boom', 0],
        [LOG_EVENT, 'telemetry', 'next minute', 2],
      ],
    );
    const boom = shipped[1]?.body as { err: string; level: string } | undefined;
    assert.equal(boom?.err, 'disk on fire');
    assert.equal(boom?.level, 'error');
  });

  it('a line logged while shipping (an enqueue that logs) is dropped, not shipped in a loop', () => {
    const shipped: AgentEvent[] = [];
    const shipper = new LogShipper(100);
    shipper.attach((e) => {
      shipped.push(e);
      shipper.write(line(40, 'logged by the enqueue'));
    });
    shipper.write(line(40, 'first'));
    assert.equal(shipped.length, 1);
    assert.equal(shipper.dropped, 1);
  });
});

describe('outpost devices logs', () => {
  const cleanups = new Cleanups();
  after(() => cleanups.run());

  it("prints the agent's warnings, and --follow prints new ones as they arrive", async () => {
    const dir = await tempDir();
    cleanups.push(() => dir.remove());
    const hub = await startHub(dir.path);
    cleanups.push(() => hub.close());
    const creds = await enroll(hub);
    // No trusted keys: the agent warns at start that it cannot verify artifacts. Its own
    // logger (no `logger` option), as `outpost agent` runs it.
    const agent = await createAgent(
      agentTestConfig({
        deviceId: creds.id,
        deviceSecret: creds.secret,
        dataDir: `${dir.path}/agent`,
        hub: { mqttUrl: hub.mqtt.url },
        logLevel: 'warn',
      }),
    );
    cleanups.push(() => agent.close());
    const env = { OUTPOST_CLI_HUB_URL: hub.http.url, OUTPOST_CLI_ADMIN_TOKEN: hub.adminToken };
    const shown = await waitFor(async () => {
      const r = await runCli(['devices', 'logs', creds.id], env);
      return /WARN +\[agent\] cannot verify model artifacts: no trusted hub keys/.test(r.stdout) && r;
    }, 'the start-up warning at the hub');
    assert.equal(shown.code, 0, shown.stderr);

    const follower = spawn(
      process.execPath,
      [`${root}/dist/cli/main.js`, 'devices', 'logs', creds.id, '--follow'],
      {
        env: { ...process.env, ...env },
      },
    );
    cleanups.push(() => follower.kill());
    let out = '';
    follower.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    await waitFor(() => out.includes('cannot verify model artifacts'), 'the follower to print the old line');
    // A new warning while following: a pinned model the agent cannot verify (it has no keys).
    await hub.delivery.registry.registerVersion({
      name: 'clf',
      version: '1.0.0',
      bytes: classifierModel().bytes,
    });
    await hub.delivery.desired.setModel(creds.id, { name: 'clf', version: '1.0.0' });
    await waitFor(() => out.includes('PROTO_UNTRUSTED_KEY'), 'the follower to print the refusal');
    assert.equal(follower.exitCode, null, 'still following');
  });
});
